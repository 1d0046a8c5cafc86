import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createAcceptPeeringHandler } from '../functions/accept-peering/handler';
import { createDialPeeringHandler } from '../functions/dial-peering/handler';
import { createOnboardClusterHandler } from '../functions/onboard-cluster/handler';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import type { ClusterConnection } from '#commons/clusters';
import { FUNCTION_AWS_CLIENT_CONFIG } from '#commons/aws/client-config';
import { ConsulClient } from '#commons/consul/client';
import type { PipelineEvent } from '#commons/events/index';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { parseJsonOrUndefined } from '#commons/json';
import { InProcessQueue } from '#commons/local/in-process-queue';
import { workflowLog } from '#commons/observability/logger';
import type { EventPublisher } from '#commons/ports/event-publisher';
import type { ConsulApi } from '#commons/ports/consul-api';
import type { Queue, SourceQueue } from '#commons/ports/queue';
import type { RotatingSecretStore, SecretStore } from '#commons/ports/secret-store';
import { QueueEventPublisher } from '#commons/queue-event-publisher';
import type { PipelineSettings, WorkflowContext, WorkflowHooks } from '#commons/workflows/context';
import type { QueueHandlerHooks } from '#commons/handler/queue-handler';
import { buildWorkflowContext, eventRoutes } from '#commons/wiring/workflow-context';
import {
  inProcessEventSource,
  runEventSource,
  type EventSourceBackend,
  type SqsBatchHandler,
} from './event-source';
import { ensureSqsQueue, sqsEventSource } from './sqs-event-source';

/**
 * As the deployed queues (infra/constructs/defaults.ts): a backstop for records that crash the
 * handler; retryable failures are dead-lettered by the handler itself once their retry budget is spent.
 */
const MAX_RECEIVE_COUNT = 20;

type Outcome = Extract<PipelineEvent, { type: 'peering.established' | 'peering.failed' }>;
type Stage = 'onboard' | 'accept' | 'dial' | 'outcomes';

/** A queue the local runtime both publishes to and consumes, like a Lambda event source. */
interface ConsumableQueue extends Queue, SourceQueue {
  consume(handler: SqsBatchHandler, signal: AbortSignal, batchSize?: number): Promise<void>;
}

export interface LocalPipelineOptions {
  settings: PipelineSettings;
  logger: Logger;
  /** Called for every event published, for progress output (never holds secret values). */
  onEvent?: (event: PipelineEvent) => void;
  /** Told of retries, dead letters and waits, for progress output. */
  hooks?: QueueHandlerHooks & WorkflowHooks;
  /**
   * Concurrent consumers per queue (default 1). Lambda runs several instances of a function side by
   * side, each with its own batches; K > 1 reproduces that, as the concurrency tests do.
   */
  consumers?: number;
  /** Per step, what Lambda's event source mapping sets: concurrent consumers and records per batch. */
  eventSources?: Partial<Record<'onboard' | 'accept' | 'dial', { consumers: number; batchSize: number }>>;
  /** Wraps each cluster's Consul API, e.g. to count calls in benchmarks. */
  wrapConsul?: (cluster: string, api: ConsulApi) => ConsulApi;
  /** Wraps the secret store the workflows use (not `secrets`, which tests use to set up and inspect). */
  wrapSecrets?: (store: SecretStore) => SecretStore;
  /** Wraps the publisher the workflows use (not `publish()`, which tests use to send requests). */
  wrapEvents?: (publisher: EventPublisher) => EventPublisher;
}

/**
 * The whole pipeline on one machine: the same three handlers as in Lambda, fed by queues with SQS
 * semantics. Two backends: `inProcess` (embedded queues and a 0600 file secret store, no AWS needed)
 * and `aws` (real SQS and Secrets Manager; `endpoint` points it at moto or LocalStack).
 */
export class LocalPipeline {
  readonly #outcomes: Outcome[] = [];
  readonly #deadLettered: DeadLetter[] = [];
  readonly #waiters = new Set<() => void>();
  #abort = new AbortController();
  #running: Promise<unknown> | undefined;
  readonly publisher: EventPublisher;

  private constructor(
    readonly secrets: RotatingSecretStore,
    private readonly queues: Record<Stage, ConsumableQueue>,
    private readonly deadLetters: ConsumableQueue,
    private readonly options: LocalPipelineOptions,
  ) {
    const routes = new QueueEventPublisher(eventRoutes(queues));
    this.publisher = {
      publish: async (event, publishOptions) => {
        options.onEvent?.(event);
        await routes.publish(event, publishOptions);
      },
    };
  }

  static inProcess(
    options: LocalPipelineOptions & { secretsFile?: string; visibilityTimeoutSeconds?: number },
  ) {
    const deadLetters = new InProcessQueue({ name: 'dead-letters' });
    const queue = (name: string): ConsumableQueue => {
      const q = new InProcessQueue({
        name,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 5,
        deadLetter: { target: deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
      });
      return consumable(q, inProcessEventSource(q));
    };
    const dlq = consumable(deadLetters, inProcessEventSource(deadLetters));
    const secrets = new FileSecretStore(
      options.secretsFile === undefined ? {} : { path: options.secretsFile },
    );
    return new LocalPipeline(
      secrets,
      {
        onboard: queue('onboard'),
        accept: queue('accept'),
        dial: queue('dial'),
        outcomes: queue('outcomes'),
      },
      dlq,
      options,
    );
  }

  static async aws(
    options: LocalPipelineOptions & {
      client?: SQSClientConfig;
      queueNamePrefix: string;
      visibilityTimeoutSeconds?: number;
    },
  ): Promise<LocalPipeline> {
    const sqs = new SQSClient({ ...FUNCTION_AWS_CLIENT_CONFIG, ...options.client });
    const visibility = options.visibilityTimeoutSeconds ?? 30;
    const dlqUrl = await ensureSqsQueue(sqs, `${options.queueNamePrefix}-dead-letters`, {
      visibilityTimeoutSeconds: visibility,
    });
    const queue = async (stage: Stage): Promise<ConsumableQueue> => {
      const url = await ensureSqsQueue(sqs, `${options.queueNamePrefix}-${stage}`, {
        visibilityTimeoutSeconds: visibility,
        deadLetterQueueUrl: dlqUrl,
        maxReceiveCount: MAX_RECEIVE_COUNT,
      });
      return sqsConsumable(sqs, url);
    };
    const dlq = sqsConsumable(sqs, dlqUrl);
    const secrets = new SecretsManagerSecretStore(
      new SecretsManagerClient({
        ...FUNCTION_AWS_CLIENT_CONFIG,
        ...(options.client as Record<string, unknown> | undefined),
      }),
    );
    const queues: Record<Stage, ConsumableQueue> = {
      onboard: await queue('onboard'),
      accept: await queue('accept'),
      dial: await queue('dial'),
      outcomes: await queue('outcomes'),
    };
    return new LocalPipeline(secrets, queues, dlq, options);
  }

  /** The workflow context the handlers run with (the same shape the Lambda wiring builds). */
  workflowContext(): WorkflowContext {
    const { settings, logger, wrapConsul, wrapSecrets, wrapEvents } = this.options;
    return buildWorkflowContext({
      secrets: wrapSecrets === undefined ? this.secrets : wrapSecrets(this.secrets),
      consul: (connection: ClusterConnection) => {
        const api = new ConsulClient(connection);
        return wrapConsul === undefined ? api : wrapConsul(connection.address, api);
      },
      events: wrapEvents === undefined ? this.publisher : wrapEvents(this.publisher),
      log: workflowLog(logger),
      settings,
      ...(this.options.hooks === undefined ? {} : { hooks: this.options.hooks }),
    });
  }

  /** Starts the three consumers (as Lambda would) and the outcome collector. */
  start(): void {
    const context = this.workflowContext();
    const { logger } = this.options;
    const signal = this.#abort.signal;
    // One logger per function, as in Lambda: the workflows log through the logger that carries the
    // record's correlation keys.
    const run = (
      name: string,
      stage: 'onboard' | 'accept' | 'dial',
      queue: ConsumableQueue,
      create: (
        c: WorkflowContext,
        d: Queue,
        l: Logger,
        s: SourceQueue,
        h?: QueueHandlerHooks,
      ) => Parameters<typeof asLambda>[1],
    ) => {
      // Each consumer is its own "instance": its own handler (the batch processor and the logger's
      // correlation keys are per invocation state), as separate Lambda instances have.
      const source = this.options.eventSources?.[stage];
      const consumers = Math.max(1, source?.consumers ?? this.options.consumers ?? 1);
      return Array.from({ length: consumers }, () => {
        const log = logger.createChild({ serviceName: name });
        const handler = create(
          { ...context, log: workflowLog(log) },
          this.deadLetters,
          log,
          queue,
          this.options.hooks,
        );
        return queue.consume(asLambda(name, handler), signal, source?.batchSize);
      });
    };
    this.#running = Promise.all([
      ...run('onboard-cluster', 'onboard', this.queues.onboard, createOnboardClusterHandler),
      ...run('accept-peering', 'accept', this.queues.accept, createAcceptPeeringHandler),
      ...run('dial-peering', 'dial', this.queues.dial, createDialPeeringHandler),
      this.queues.outcomes.consume((event) => {
        for (const record of event.Records) this.#outcomes.push(JSON.parse(record.body) as Outcome);
        for (const wake of this.#waiters) wake();
        return Promise.resolve({ batchItemFailures: [] });
      }, signal),
      // Both kinds of dead letter: those a handler moved there (permanent failures, with their reason)
      // and those SQS's redrive moved after maxReceiveCount deliveries (no reason of their own).
      this.deadLetters.consume((event) => {
        for (const record of event.Records) this.#deadLettered.push(deadLetterOf(record));
        return Promise.resolve({ batchItemFailures: [] });
      }, signal),
    ]);
  }

  async publish(event: PipelineEvent): Promise<void> {
    await this.publisher.publish(event);
  }

  /** Sends a raw body to a stage's queue, bypassing validation (to exercise bad input). */
  async sendRaw(stage: Exclude<Stage, 'outcomes'>, body: string): Promise<void> {
    await this.queues[stage].send({ body });
  }

  /** Every message that reached the dead-letter queue since start(), in order. */
  deadLettered(): readonly DeadLetter[] {
    return this.#deadLettered;
  }

  outcomes(): readonly Outcome[] {
    return this.#outcomes;
  }

  /** Resolves with the outcome (established or failed) of the request with this correlation id. */
  async waitForOutcome(correlationId: string, timeoutMs: number): Promise<Outcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.#outcomes.find((o) => o.correlationId === correlationId);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no outcome for request ${correlationId} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 1_000));
        this.#waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running?.catch(() => undefined);
    this.#abort = new AbortController();
  }
}

/** Invokes a Lambda handler as the Lambda runtime would, with a context describing a local invocation. */
function asLambda(
  functionName: string,
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
): SqsBatchHandler {
  return (event) => {
    const local: Omit<Context, 'done' | 'fail' | 'succeed'> = {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
      memoryLimitInMB: '512',
      awsRequestId: randomUUID(),
      logGroupName: `/local/${functionName}`,
      logStreamName: 'local',
      getRemainingTimeInMillis: () => 60_000,
    };
    // The deprecated callback members are never called by promise handlers.
    return handler(event, local as Context);
  };
}

export interface DeadLetter {
  /** From the message attribute (kept by SQS redrive), else from the body; undefined for a body that is not an event. */
  correlationId: string | undefined;
  /** The handler's reason (e.g. `validation`, `name-conflict`), or `retries-exhausted` after the redrive. */
  reason: string;
  error: string;
  body: string;
}

function deadLetterOf(record: SQSRecord): DeadLetter {
  const attribute = (name: string): string | undefined => record.messageAttributes[name]?.stringValue;
  const fromBody = (parseJsonOrUndefined(record.body) as { correlationId?: unknown } | undefined)
    ?.correlationId;
  const reason = attribute('reason');
  return {
    correlationId: attribute('correlationId') ?? (typeof fromBody === 'string' ? fromBody : undefined),
    reason: reason ?? 'retries-exhausted',
    error:
      reason === undefined
        ? "gave up after the queue's maxReceiveCount deliveries"
        : (attribute('error') ?? ''),
    body: record.body,
  };
}

function sqsConsumable(sqs: SQSClient, queueUrl: string): ConsumableQueue {
  return consumable(new SqsQueue({ queueUrl, client: sqs }), sqsEventSource(sqs, queueUrl));
}

/** A queue to publish to, and the event source that feeds its consumers from it. */
function consumable(queue: Queue & SourceQueue, source: EventSourceBackend): ConsumableQueue {
  return {
    send: (message) => queue.send(message),
    retryAfter: (receiptHandle, seconds) => queue.retryAfter(receiptHandle, seconds),
    consume: (handler, signal, batchSize) =>
      runEventSource(source, handler, { signal, ...(batchSize === undefined ? {} : { batchSize }) }),
  };
}
