import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { functionEntry } from './bundle-options';
import { QUEUE_DEFAULTS, WORKER_DEFAULTS, type WorkerName } from './defaults';
import { PeeringFunction, type VpcPlacement } from './peering-function';
import type { SecureQueue } from './secure-queue';

/** The visibility timeout a queue needs for a consumer with this timeout (AWS: at least 6x). */
export const visibilityTimeoutFor = (functionTimeout: Duration): Duration =>
  Duration.seconds(functionTimeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutPerFunctionTimeout);

export interface QueueWorkerProps {
  name: WorkerName;
  /** The queue this function consumes; its visibility timeout must fit the function's timeout. */
  queue: SecureQueue;
  projectRoot: string;
  environment: Record<string, string>;
  /** In the VPC (to reach Consul); none for a function that never talks to Consul. */
  placement?: VpcPlacement;
  logLevel?: string;
}

/**
 * A PeeringFunction fed by its queue (a pipeline step, or the outcome notifier), with partial batch
 * responses (a failed record is redelivered alone), a small batch and a concurrency cap from
 * WORKER_DEFAULTS. Refuses a queue whose visibility timeout does not fit the function's timeout.
 */
export class QueueWorker extends Construct {
  readonly fn: PeeringFunction;
  readonly queue: SecureQueue;

  constructor(scope: Construct, id: string, props: QueueWorkerProps) {
    super(scope, id);
    const defaults = WORKER_DEFAULTS[props.name];
    const needed = visibilityTimeoutFor(defaults.timeout);
    if (props.queue.visibilityTimeout.toSeconds() < needed.toSeconds()) {
      // Otherwise a record still being processed becomes visible again and runs twice in parallel.
      throw new Error(
        `${id}: the visibility timeout of its queue (${props.queue.visibilityTimeout.toSeconds()} s) must be at ` +
          `least ${QUEUE_DEFAULTS.visibilityTimeoutPerFunctionTimeout}x the function timeout ` +
          `(${defaults.timeout.toSeconds()} s), i.e. ${needed.toSeconds()} s`,
      );
    }
    this.queue = props.queue;
    this.fn = new PeeringFunction(this, 'Function', {
      entry: functionEntry(props.projectRoot, props.name),
      projectRoot: props.projectRoot,
      description: defaults.description,
      timeout: defaults.timeout,
      environment: { ...props.environment, ...defaults.environment },
      placement: props.placement,
      logLevel: props.logLevel,
    });
    this.fn.addEventSource(
      new SqsEventSource(props.queue, {
        batchSize: defaults.batchSize,
        maxConcurrency: defaults.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
  }
}
