import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { PipelineStep } from './bundle-options';
import type { SecretAccess, SecretFolder } from './peering-function';

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
  /**
   * A backstop for records that crash or time out the function (each such delivery costs a whole
   * visibility timeout). Retryable failures do not get here: the handler retries them with a backoff
   * and dead-letters them itself, with their reason, once the retry budget (RETRY_BUDGET_SECONDS,
   * 300 s: about 14 deliveries) is spent, so this must stay above that count.
   */
  maxReceiveCount: 20,
} as const;

/** The functions fed by a queue: the pipeline's steps and the outcome notifier. */
export type WorkerName = PipelineStep | 'notify-outcome';

export interface WorkerDefaults {
  /** The event types the function consumes (its queue carries only those). */
  consumes: readonly (
    | 'cluster.registered'
    | 'peering.requested'
    | 'peering.acceptor-ready'
    | 'peering.established'
    | 'peering.failed'
  )[];
  description: string;
  /**
   * Covers the slowest batch. The pipeline's steps run a batch's records in parallel (Powertools'
   * BatchProcessor), so their timeout covers the slowest record: the Consul client times out each
   * attempt at 10 s (30 s for the synchronous establish) and retries safe requests at most 4 times
   * with backoff capped at 2 s. The notifier runs its records one after the other.
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

export const WORKER_DEFAULTS: Record<WorkerName, WorkerDefaults> = {
  'onboard-cluster': {
    consumes: ['cluster.registered'],
    description: 'cluster.registered: check the connection, ensure mesh config, gateway token and gateway',
    // Several sequential writes (mesh config entry, ACL policy and token, gateway registration).
    timeout: Duration.seconds(45),
    batchSize: 5,
    // Registrations are rare and each writes ACL objects and config entries.
    maxConcurrency: 2,
  },
  'accept-peering': {
    consumes: ['peering.requested'],
    description: 'peering.requested: generate the peering token on the acceptor and store it',
    timeout: Duration.seconds(30),
    batchSize: 5,
    maxConcurrency: 5,
  },
  'dial-peering': {
    consumes: ['peering.acceptor-ready'],
    description: 'peering.acceptor-ready: establish the peering from the dialer and wait for ACTIVE',
    // Worst case: the precondition wait (READINESS_WAIT_MS, 15 s), the pair lock wait (LOCK_WAIT_MS,
    // 10 s), a synchronous establish (~7 s, timed out at 30 s), then ACTIVATION_POLL_MS (2 s) of polling
    // for ACTIVE before a delayed re-check message takes over: 57 s + reads.
    timeout: Duration.seconds(60),
    // One record per invocation: a timed-out invocation returns its whole batch to the queue and counts
    // a receive for each record, so a slow establish must not burn the attempts of unrelated peerings.
    batchSize: 1,
    maxConcurrency: 5,
    environment: { ACTIVATION_POLL_MS: '2000' },
  },
  'notify-outcome': {
    consumes: ['peering.established', 'peering.failed'],
    description:
      'peering.established / peering.failed: log the outcome, post it to Slack when asked from there',
    // Records run one after the other (processInParallel: false), each a secret read, one post to Slack
    // (timed out at 5 s) and a secret delete: a full batch of 10 against a slow Slack takes about 50 s.
    timeout: Duration.seconds(60),
    batchSize: 10,
    // Outcomes are one per peering; no Consul behind this one, the cap only keeps Slack's
    // response_url rate limits and a backlog after an outage polite.
    maxConcurrency: 2,
  },
};

/**
 * Which folders of `<prefix>/` each function that talks to Consul may read, write or delete, taken
 * from what its workflow does (functions/commons/workflows/). Every step reads `clusters/*` (the
 * connection secrets); none writes it: only the operator does (peerctl cluster add, docs/deploy.md).
 * Nothing here reaches `slack/*` or `slack-responses/*`.
 */
export const SECRET_GRANTS: Record<
  PipelineStep | 'drift-remediation',
  Partial<Record<SecretFolder, readonly SecretAccess[]>>
> = {
  // The gateway's ACL token is stored once minted (ensureGatewayToken), then handed to rotation.
  'onboard-cluster': { clusters: ['read'], 'gateway-tokens': ['write', 'schedule-rotation'] },
  // The wanted peering is recorded (ensurePeeringRecord), then the peering token stored.
  'accept-peering': { clusters: ['read'], 'peering-tokens': ['write'], peerings: ['write'] },
  // Reads the token the acceptor stored; a spent token is renewed by the acceptor, never here.
  'dial-peering': { clusters: ['read'], 'peering-tokens': ['read'] },
  // Compares every folder with Consul; its one write is deleting orphaned peering tokens.
  'drift-remediation': {
    clusters: ['read'],
    'gateway-tokens': ['read'],
    'peering-tokens': ['read', 'delete'],
    peerings: ['read'],
  },
};

/**
 * The `/peering` slash command behind a function URL. Slack gives up after 3 s, cold start included,
 * and nothing it does takes long (a signature check, a ListSecrets, a CreateSecret, one SendMessage).
 */
export const SLACK_COMMAND_DEFAULTS = {
  description:
    'The /peering Slack slash command (function URL; Slack request signatures are its authentication)',
  // Well past what a healthy request takes and far less than the default 30 s a stuck one would hold
  // a concurrency slot for; Slack stopped waiting at 3 s anyway.
  timeout: Duration.seconds(10),
  // Init is CPU-bound and Lambda's CPU share grows with memory: twice the pipeline's, for a cold start
  // well inside Slack's 3 s.
  memorySize: 1024,
  /**
   * The URL is public (AuthType NONE): anyone can make it run up to the signature check. Reserved
   * concurrency bounds what a flood can cost and keeps it from starving the pipeline's functions of
   * the account's concurrency; a few operators typing at once need far fewer than 5.
   */
  reservedConcurrency: 5,
} as const;

/** The scheduled drift scan (EventBridge rule → async invocation). */
export const DRIFT_DEFAULTS = {
  description:
    'Scheduled drift scan: compare the clusters with the wanted peerings and heal through the pipeline',
  // Reads every cluster (bounded concurrency) and every wanted peering: minutes for a large fleet.
  timeout: Duration.minutes(5),
  /** Never two scans at once: a second one would publish the same remedies again. */
  reservedConcurrency: 1,
  /**
   * A failed scan is not retried (the next scheduled one is the retry, and a failing Consul should not
   * be scanned three times in a row); the errors alarm reports it.
   */
  retryAttempts: 0,
  /**
   * A scan throttled by the one still running waits in Lambda's async queue; after this long it is
   * dropped, since the next scheduled scan does the same work.
   */
  maxEventAge: Duration.minutes(15),
  /**
   * The EMF namespace of its metrics: METRICS_NAMESPACE of functions/drift-remediation/handler.ts
   * (a test keeps them equal).
   */
  metricsNamespace: 'ConsulPeeringAutomation',
  /** Powertools Metrics' default dimension: `service` = the function's serviceName. */
  metricsService: 'drift-remediation',
} as const;

export const ALARM_DEFAULTS = {
  period: Duration.minutes(5),
  /**
   * A work message older than this has failed several deliveries (visibility timeouts of 3 to 6 min)
   * or the consumer is not keeping up. A dial re-check is a new message, so waiting for ACTIVE does not
   * age one message.
   */
  oldestMessageAge: Duration.minutes(15),
} as const;
