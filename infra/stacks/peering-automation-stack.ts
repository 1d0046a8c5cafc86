import { Annotations, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { resolveConfig } from '../config/resolve-config';
import type { AutomationConfig, PeeringAutomationSettings } from '../config/settings';
import { FUNCTION_NAMES, type FunctionName } from '../constructs/bundle-options';
import { QUEUE_DEFAULTS, WORKER_DEFAULTS } from '../constructs/defaults';
import type { VpcPlacement } from '../constructs/peering-function';
import { PipelineAlarms } from '../constructs/pipeline-alarms';
import { PipelineDashboard } from '../constructs/pipeline-dashboard';
import { QueueWorker, visibilityTimeoutFor } from '../constructs/queue-worker';
import { SecureQueue } from '../constructs/secure-queue';

export interface PeeringAutomationStackProps extends StackProps {
  /** The repository root (package.json, package-lock.json, functions/). */
  projectRoot: string;
  /** Overrides the `consulPeering:*` context; see infra/README-deploy.md. */
  settings?: PeeringAutomationSettings;
}

/** Construct ids, and the environment variable that carries each work queue's URL to every function. */
const STEPS: Record<FunctionName, { id: string; queueUrlVariable: string }> = {
  'onboard-cluster': { id: 'OnboardCluster', queueUrlVariable: 'ONBOARD_QUEUE_URL' },
  'accept-peering': { id: 'AcceptPeering', queueUrlVariable: 'ACCEPT_QUEUE_URL' },
  'dial-peering': { id: 'DialPeering', queueUrlVariable: 'DIAL_QUEUE_URL' },
};

/**
 * The peering pipeline: one work queue and one function per step, an outcomes queue, one dead-letter
 * queue, a KMS key for all of them, alarms and a dashboard. Only composes our constructs.
 */
export class PeeringAutomationStack extends Stack {
  readonly config: AutomationConfig;
  readonly key: kms.IKey;
  readonly deadLetterQueue: SecureQueue;
  readonly outcomeQueue: SecureQueue;
  readonly workers: Record<FunctionName, QueueWorker>;

  constructor(scope: Construct, id: string, props: PeeringAutomationStackProps) {
    super(scope, id, props);
    const config = resolveConfig(this.node, props.settings);
    this.config = config;

    this.key =
      config.kmsKeyArn === undefined
        ? new kms.Key(this, 'QueueKey', {
            description: 'Encrypts the consul-peering-automation queues',
            enableKeyRotation: true,
          })
        : kms.Key.fromKeyArn(this, 'QueueKey', config.kmsKeyArn);

    this.deadLetterQueue = new SecureQueue(this, 'DeadLetterQueue', {
      encryptionKey: this.key,
      isDeadLetterQueue: true,
    });
    const redrive = { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount };
    this.outcomeQueue = new SecureQueue(this, 'OutcomeQueue', {
      encryptionKey: this.key,
      visibilityTimeout: QUEUE_DEFAULTS.outcomeVisibilityTimeout,
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
    };
    for (const name of FUNCTION_NAMES) environment[STEPS[name].queueUrlVariable] = workQueues[name].queueUrl;

    const placement = config.network && this.importNetwork(config.network);
    const allQueues = [...Object.values(workQueues), this.outcomeQueue, this.deadLetterQueue];
    this.workers = mapSteps((name) => {
      const worker = new QueueWorker(this, STEPS[name].id, {
        name,
        queue: workQueues[name],
        projectRoot: props.projectRoot,
        environment,
        placement,
        logLevel: config.logLevel,
      });
      worker.fn.allowSecretsUnder(config.secretPrefix);
      worker.fn.allowSendingTo(allQueues, this.key);
      return worker;
    });

    const workersById = Object.fromEntries(
      FUNCTION_NAMES.map((name) => [STEPS[name].id, this.workers[name]]),
    );
    const alarms = new PipelineAlarms(this, 'Alarms', {
      workers: workersById,
      deadLetterQueue: this.deadLetterQueue,
      ...(config.alarmTopicArn !== undefined && {
        alarmTopic: sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn),
      }),
    });
    const dashboard = new PipelineDashboard(this, 'Operations', {
      workers: workersById,
      deadLetterQueue: this.deadLetterQueue,
      outcomeQueue: this.outcomeQueue,
      alarms: alarms.alarms,
    });

    // Settings of functions that are not deployed yet (drift, Slack), validated now and recorded in the
    // template so a deployed stack shows what they will use.
    this.templateOptions.metadata = {
      ConsulPeeringAutomation: { driftSchedule: config.driftSchedule, slack: config.slack },
    };

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

function mapSteps<T>(build: (name: FunctionName) => T): Record<FunctionName, T> {
  return Object.fromEntries(FUNCTION_NAMES.map((name) => [name, build(name)])) as Record<FunctionName, T>;
}
