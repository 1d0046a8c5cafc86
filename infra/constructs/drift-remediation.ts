import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionEntry } from './bundle-options';
import { ALARM_DEFAULTS, DRIFT_DEFAULTS, SECRET_GRANTS } from './defaults';
import { PeeringFunction, type VpcPlacement } from './peering-function';

export interface DriftRemediationProps {
  projectRoot: string;
  /** An EventBridge schedule expression, `rate(…)` or `cron(…)` (validated by resolveConfig). */
  schedule: string;
  secretPrefix: string;
  /** The pipeline's environment: every queue URL, the dead-letter queue and SECRET_PREFIX. */
  environment: Record<string, string>;
  /** The work queues it may publish remedies to (`cluster.registered`, `peering.requested`, …). */
  workQueues: sqs.IQueue[];
  key: kms.IKey;
  /** In the VPC like the pipeline's steps: it reads every cluster's state from Consul. */
  placement?: VpcPlacement;
  logLevel?: string;
}

/**
 * The scheduled drift scan: an EventBridge rule invokes the function (asynchronously) on `schedule`.
 * It reads the wanted peerings and every cluster, and heals through the pipeline (it publishes the same
 * events a request would) or deletes orphaned peering-token secrets. One scan at a time (reserved
 * concurrency 1), no retries of a failed scan (the next one is the retry), and a throttled scan is
 * dropped after DRIFT_DEFAULTS.maxEventAge. Its metrics are EMF log lines (no IAM needed).
 */
export class DriftRemediation extends Construct {
  readonly fn: PeeringFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: DriftRemediationProps) {
    super(scope, id);
    this.fn = new PeeringFunction(this, 'Function', {
      entry: functionEntry(props.projectRoot, 'drift-remediation'),
      projectRoot: props.projectRoot,
      description: DRIFT_DEFAULTS.description,
      timeout: DRIFT_DEFAULTS.timeout,
      reservedConcurrentExecutions: DRIFT_DEFAULTS.reservedConcurrency,
      environment: props.environment,
      placement: props.placement,
      logLevel: props.logLevel,
    });
    this.fn.configureAsyncInvoke({
      retryAttempts: DRIFT_DEFAULTS.retryAttempts,
      maxEventAge: DRIFT_DEFAULTS.maxEventAge,
    });

    // It reads what it compares and deletes orphaned peering tokens (SECRET_GRANTS).
    this.fn.allowSecretFolders(props.secretPrefix, SECRET_GRANTS['drift-remediation'], props.key);
    this.fn.allowListingSecrets(
      'drift-remediation lists the secrets under <prefix>/ to find the wanted peerings, the registered ' +
        'clusters and orphaned peering tokens; secretsmanager:ListSecrets supports no resource-level ' +
        'permissions, so AWS accepts only "*". It returns names, tags and descriptions, never values.',
    );
    this.fn.allowSendingTo(props.workQueues, props.key, 'Work');

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Runs the drift scan: ${props.schedule}`,
      schedule: events.Schedule.expression(props.schedule),
      // EventBridge's own retries (delivering to Lambda's async queue) end at the same age.
      targets: [new targets.LambdaFunction(this.fn, { maxEventAge: DRIFT_DEFAULTS.maxEventAge })],
    });
  }

  /** A metric each run writes (EMF: `DriftFindings`, `ClustersUnreachable`, …), its maximum per period. */
  runMetric(metricName: string): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: DRIFT_DEFAULTS.metricsNamespace,
      metricName,
      dimensionsMap: { service: DRIFT_DEFAULTS.metricsService },
      period: ALARM_DEFAULTS.period,
      statistic: 'Maximum',
    });
  }
}
