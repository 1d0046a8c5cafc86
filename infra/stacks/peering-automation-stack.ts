import { Annotations, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { resolveConfig } from '../config/resolve-config';
import type { AutomationConfig, PeeringAutomationSettings } from '../config/settings';
import { PIPELINE_STEPS, type PipelineStep } from '../constructs/bundle-options';
import { SECRET_GRANTS, WORKER_DEFAULTS } from '../constructs/defaults';
import { DriftRemediation } from '../constructs/drift-remediation';
import { GatewayTokenRotation } from '../constructs/gateway-token-rotation';
import type { VpcPlacement } from '../constructs/peering-function';
import { PipelineAlarms } from '../constructs/pipeline-alarms';
import { PipelineDashboard } from '../constructs/pipeline-dashboard';
import { QueueWorker, visibilityTimeoutFor } from '../constructs/queue-worker';
import { SecureQueue } from '../constructs/secure-queue';
import { SlackCommand, slackResponsesFolder } from '../constructs/slack-command';

export interface PeeringAutomationStackProps extends StackProps {
  /** The repository root (package.json, package-lock.json, functions/). */
  projectRoot: string;
  /** Overrides the `consulPeering:*` context; see docs/deploy.md. */
  settings?: PeeringAutomationSettings;
}

/** Construct ids, and the environment variable that carries each work queue's URL to every function. */
const STEPS: Record<PipelineStep, { id: string; queueUrlVariable: string }> = {
  'onboard-cluster': { id: 'OnboardCluster', queueUrlVariable: 'ONBOARD_QUEUE_URL' },
  'accept-peering': { id: 'AcceptPeering', queueUrlVariable: 'ACCEPT_QUEUE_URL' },
  'dial-peering': { id: 'DialPeering', queueUrlVariable: 'DIAL_QUEUE_URL' },
};

/**
 * The peering pipeline: one work queue and one function per step, an outcomes queue and its notifier,
 * one dead-letter queue, a KMS key for all of them, the Slack command behind a function URL, the
 * scheduled drift scan, alarms and a dashboard. Only composes our constructs.
 */
export class PeeringAutomationStack extends Stack {
  readonly config: AutomationConfig;
  readonly key: kms.IKey;
  readonly deadLetterQueue: SecureQueue;
  readonly outcomeQueue: SecureQueue;
  readonly workers: Record<PipelineStep, QueueWorker>;
  readonly notifier: QueueWorker;
  readonly slackCommand: SlackCommand;
  readonly drift: DriftRemediation;
  readonly rotation: GatewayTokenRotation;

  constructor(scope: Construct, id: string, props: PeeringAutomationStackProps) {
    super(scope, id, props);
    const config = resolveConfig(this.node, props.settings);
    this.config = config;

    this.key =
      config.kmsKeyArn === undefined
        ? new kms.Key(this, 'QueueKey', {
            description: 'Encrypts the consul-peering-automation queues and secrets',
            enableKeyRotation: true,
          })
        : kms.Key.fromKeyArn(this, 'QueueKey', config.kmsKeyArn);

    this.deadLetterQueue = new SecureQueue(this, 'DeadLetterQueue', {
      encryptionKey: this.key,
      isDeadLetterQueue: true,
    });
    const redrive = { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount };
    // Consumed by notify-outcome: redriven like the work queues, visibility fitted to the notifier.
    this.outcomeQueue = new SecureQueue(this, 'OutcomeQueue', {
      encryptionKey: this.key,
      visibilityTimeout: visibilityTimeoutFor(WORKER_DEFAULTS['notify-outcome'].timeout),
      deadLetterQueue: redrive,
    });
    const workQueues = mapSteps(
      (name) =>
        new SecureQueue(this, `${STEPS[name].id}Queue`, {
          encryptionKey: this.key,
          visibilityTimeout: visibilityTimeoutFor(WORKER_DEFAULTS[name].timeout),
          deadLetterQueue: redrive,
        }),
    );

    const environment: Record<string, string> = {
      OUTCOME_QUEUE_URL: this.outcomeQueue.queueUrl,
      DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
      SECRET_PREFIX: config.secretPrefix,
      // Every secret the functions create is encrypted with this key; drift reports those that are not.
      SECRETS_KMS_KEY_ID: this.key.keyArn,
    };
    for (const name of PIPELINE_STEPS) environment[STEPS[name].queueUrlVariable] = workQueues[name].queueUrl;

    const placement = config.network && this.importNetwork(config.network);
    const allQueues = [...Object.values(workQueues), this.outcomeQueue, this.deadLetterQueue];
    this.rotation = new GatewayTokenRotation(this, 'GatewayTokenRotation', {
      projectRoot: props.projectRoot,
      secretPrefix: config.secretPrefix,
      environment: { SECRET_PREFIX: config.secretPrefix, SECRETS_KMS_KEY_ID: this.key.keyArn },
      key: this.key,
      placement,
      logLevel: config.logLevel,
    });
    // Onboarding alone hands gateway token secrets to the rotation function.
    const rotationEnvironment = {
      ROTATION_FUNCTION_ARN: this.rotation.fn.functionArn,
      ROTATION_AFTER_DAYS: String(config.gatewayTokenRotationDays),
    };
    this.workers = mapSteps((name) => {
      const worker = new QueueWorker(this, STEPS[name].id, {
        name,
        queue: workQueues[name],
        projectRoot: props.projectRoot,
        environment: name === 'onboard-cluster' ? { ...environment, ...rotationEnvironment } : environment,
        placement,
        logLevel: config.logLevel,
      });
      worker.fn.allowSecretFolders(config.secretPrefix, SECRET_GRANTS[name], this.key);
      worker.fn.allowSendingTo(allQueues, this.key);
      return worker;
    });
    // RotateSecret also needs the caller to be allowed to invoke the rotation function (that one ARN).
    this.workers['onboard-cluster'].fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeRotation',
        actions: ['lambda:InvokeFunction'],
        resources: [this.rotation.fn.functionArn],
      }),
    );

    // Outside the VPC even when one is configured: it never talks to Consul, only to SQS, Secrets
    // Manager and https://hooks.slack.com (the internet, which a Lambda outside a VPC reaches without a
    // NAT gateway, and which the Consul subnets need not reach at all).
    this.notifier = new QueueWorker(this, 'NotifyOutcome', {
      name: 'notify-outcome',
      queue: this.outcomeQueue,
      projectRoot: props.projectRoot,
      environment: {
        SECRET_PREFIX: config.secretPrefix,
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        OUTCOME_QUEUE_URL: this.outcomeQueue.queueUrl,
      },
      logLevel: config.logLevel,
    });
    this.notifier.fn.allowSecretActions({
      sid: 'SlackResponses',
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DeleteSecret'],
      namePrefix: slackResponsesFolder(config.secretPrefix),
      reason:
        "notify-outcome reads and then deletes the response_url a Slack request stored under the request's " +
        'random id (unknown in advance; every secret ARN also has a random suffix): the grant is scoped ' +
        "to the slack-responses folder under the pipeline's prefix, the narrowest pattern.",
    });
    this.notifier.fn.allowSecretsKey(this.key, 'read');
    this.notifier.fn.allowSendingTo([this.deadLetterQueue], this.key, 'DeadLetter');

    // Outside the VPC: see SlackCommand (public-facing, never talks to Consul).
    this.slackCommand = new SlackCommand(this, 'SlackCommand', {
      projectRoot: props.projectRoot,
      secretPrefix: config.secretPrefix,
      signingSecretName: config.slack.signingSecretName,
      allowedUserIds: config.slack.allowedUserIds,
      allowedChannelIds: config.slack.allowedChannelIds,
      acceptQueue: workQueues['accept-peering'],
      key: this.key,
      logLevel: config.logLevel,
    });

    this.drift = new DriftRemediation(this, 'DriftRemediation', {
      projectRoot: props.projectRoot,
      schedule: config.driftSchedule,
      secretPrefix: config.secretPrefix,
      environment,
      workQueues: Object.values(workQueues),
      key: this.key,
      placement,
      logLevel: config.logLevel,
    });

    const workersById = {
      ...Object.fromEntries(PIPELINE_STEPS.map((name) => [STEPS[name].id, this.workers[name]])),
      NotifyOutcome: this.notifier,
    };
    const alarms = new PipelineAlarms(this, 'Alarms', {
      workers: workersById,
      functions: {
        SlackCommand: { fn: this.slackCommand.fn, alarmOnThrottles: true },
        DriftRemediation: { fn: this.drift.fn },
        // A failed step leaves the old token current; the alarm says the next rotation must be looked at.
        GatewayTokenRotation: { fn: this.rotation.fn },
      },
      deadLetterQueue: this.deadLetterQueue,
      ...(config.alarmTopicArn !== undefined && {
        alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn),
      }),
    });
    const dashboard = new PipelineDashboard(this, 'Operations', {
      workers: workersById,
      functions: {
        SlackCommand: {
          fn: this.slackCommand.fn,
          // 4xx includes the refused requests (bad signature 401, too large 413, throttled 429).
          details: { title: 'function URL responses', metrics: this.slackCommand.urlMetrics() },
        },
        DriftRemediation: {
          fn: this.drift.fn,
          details: {
            title: 'findings and remedies (per run)',
            metrics: ['DriftFindings', 'ClustersUnreachable', 'RemediationEvents', 'DeletedSecrets'].map(
              (metricName) => this.drift.runMetric(metricName),
            ),
          },
        },
        GatewayTokenRotation: {
          fn: this.rotation.fn,
          details: {
            title: 'failed rotation steps',
            metrics: [this.rotation.fn.metricErrors({ statistic: 'Sum' })],
          },
        },
      },
      deadLetterQueue: this.deadLetterQueue,
      outcomeQueue: this.outcomeQueue,
      alarms: alarms.alarms,
    });

    new CfnOutput(this, 'OnboardQueueUrl', {
      value: workQueues['onboard-cluster'].queueUrl,
      description: 'Send cluster.registered events here',
    });
    new CfnOutput(this, 'AcceptQueueUrl', {
      value: workQueues['accept-peering'].queueUrl,
      description: 'Send peering.requested events here',
    });
    new CfnOutput(this, 'OutcomeQueueUrl', { value: this.outcomeQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'SlackCommandUrl', {
      value: this.slackCommand.url.url,
      description: "The Slack app's slash command Request URL (docs/slack.md)",
    });
    new CfnOutput(this, 'DriftFunctionName', {
      value: this.drift.fn.functionName,
      description: 'Invoke with {"dryRun": true} for a report without remedies',
    });
    new CfnOutput(this, 'QueueKeyArn', { value: this.key.keyArn });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboard.dashboardName });
  }

  /**
   * Imports the VPC, subnets and security groups by id, without lookups (which need AWS credentials):
   * synth stays offline. Security groups are immutable here: we never add rules to the user's groups.
   */
  private importNetwork(network: NonNullable<AutomationConfig['network']>): VpcPlacement {
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: network.vpcId,
      availabilityZones: Fn.getAzs(),
    });
    Annotations.of(vpc).acknowledgeWarning(
      '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
      'The functions name their subnets by id; nothing selects subnets from this VPC by zone.',
    );
    return {
      vpc,
      subnets: network.subnetIds.map((subnetId) => {
        const subnet = ec2.Subnet.fromSubnetId(this, `Subnet-${subnetId}`, subnetId);
        Annotations.of(subnet).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'Lambda attaches ENIs to the subnet; nothing here reads or changes its route table.',
        );
        return subnet;
      }),
      securityGroups: network.securityGroupIds.map((groupId) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup-${groupId}`, groupId, { mutable: false }),
      ),
    };
  }
}

function mapSteps<T>(build: (name: PipelineStep) => T): Record<PipelineStep, T> {
  return Object.fromEntries(PIPELINE_STEPS.map((name) => [name, build(name)])) as Record<PipelineStep, T>;
}
