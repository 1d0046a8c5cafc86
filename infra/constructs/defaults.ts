import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { FunctionName } from './bundle-options';

/**
 * Every default of our constructs, in one file (as aws-solutions-constructs keeps them): a reviewer
 * reads the whole security and reliability posture here, and a stack can only compose.
 */

export const FUNCTION_DEFAULTS = {
  // Explicit: NODEJS_LATEST moves (it means 24 now); we deploy the major the project is built and tested on.
  runtime: lambda.Runtime.NODEJS_22_X,
  architecture: lambda.Architecture.ARM_64,
  // Init is CPU-bound (parsing a ~1 MB bundle) and Lambda's CPU share grows with memory.
  memorySize: 512,
  tracing: lambda.Tracing.ACTIVE,
  // Powertools already writes JSON; this makes Lambda's own START/REPORT lines JSON too.
  loggingFormat: lambda.LoggingFormat.JSON,
  logRetention: logs.RetentionDays.ONE_MONTH,
  logLevel: 'INFO',
} as const;

export const QUEUE_DEFAULTS = {
  /** AWS guidance for SQS event sources: visibility timeout at least 6x the function timeout. */
  visibilityTimeoutPerFunctionTimeout: 6,
  retentionPeriod: Duration.days(4),
  /** Longer than the source queues', so a redriven message never expires sooner than it would have. */
  deadLetterRetentionPeriod: Duration.days(14),
  maxReceiveCount: 5,
  /** Outcomes have no consumer yet (ChatOps lands later); a default visibility fits a notifier. */
  outcomeVisibilityTimeout: Duration.seconds(30),
} as const;

export interface WorkerDefaults {
  /** The event type the function consumes (its queue carries only that type). */
  consumes: 'cluster.registered' | 'peering.requested' | 'peering.acceptor-ready';
  description: string;
  /**
   * Covers the slowest record of a batch: Powertools' BatchProcessor runs a batch's records in parallel.
   * The Consul client times out each attempt at 10 s (30 s for the synchronous establish) and retries
   * safe requests at most 4 times with backoff capped at 2 s.
   */
  timeout: Duration;
  batchSize: number;
  /**
   * Caps concurrent invocations per event source, to protect Consul's servers (every write goes
   * through Raft; an establish holds a gRPC stream open through both gateways). maxConcurrency rather
   * than reserved concurrency: a reserved-concurrency limit makes Lambda throttle batches the SQS poller
   * already received, which counts against maxReceiveCount and can move healthy messages to the DLQ.
   * Minimum 2 (an SQS event source limit).
   */
  maxConcurrency: number;
  environment?: Record<string, string>;
}

export const WORKER_DEFAULTS: Record<FunctionName, WorkerDefaults> = {
  'onboard-cluster': {
    consumes: 'cluster.registered',
    description: 'cluster.registered: check the connection, ensure mesh config, gateway token and gateway',
    // Several sequential writes (mesh config entry, ACL policy and token, gateway registration).
    timeout: Duration.seconds(45),
    batchSize: 5,
    // Registrations are rare and each writes ACL objects and config entries.
    maxConcurrency: 2,
  },
  'accept-peering': {
    consumes: 'peering.requested',
    description: 'peering.requested: generate the peering token on the acceptor and store it',
    timeout: Duration.seconds(30),
    batchSize: 5,
    maxConcurrency: 5,
  },
  'dial-peering': {
    consumes: 'peering.acceptor-ready',
    description: 'peering.acceptor-ready: establish the peering from the dialer and wait for ACTIVE',
    // Establish is synchronous (~7 s, timed out at 30 s), then the function polls up to
    // ACTIVATION_POLL_MS for ACTIVE before handing over to a delayed re-check message: 30 + 15 s + reads.
    timeout: Duration.seconds(60),
    // One record per invocation: a timed-out invocation returns its whole batch to the queue and counts
    // a receive for each record, so a slow establish must not burn the attempts of unrelated peerings.
    batchSize: 1,
    maxConcurrency: 5,
    environment: { ACTIVATION_POLL_MS: '15000' },
  },
};

export const ALARM_DEFAULTS = {
  period: Duration.minutes(5),
  /**
   * A work message older than this has failed several deliveries (visibility timeouts of 3 to 6 min)
   * or the consumer is not keeping up. A dial re-check is a new message, so waiting for ACTIVE does not
   * age one message.
   */
  oldestMessageAge: Duration.minutes(15),
} as const;
