/**
 * The two backends a command runs on:
 * - local (default): the file secret store and an in-process LocalPipeline, the same handlers as in
 *   Lambda. Its queues live in this process, so a command that publishes runs the pipeline until its
 *   work is done.
 * - aws (`--aws`): Secrets Manager and the deployed pipeline's SQS queues. Region and credentials come
 *   from the usual AWS configuration; AWS_ENDPOINT_URL points the SDK at moto or LocalStack.
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import { parseConnection, SecretBackedClusterDirectory, type ClusterConnection } from '#commons/clusters';
import { ConsulClient } from '#commons/consul/client';
import type { PipelineEvent } from '#commons/events/index';
import { parseJsonOrUndefined } from '#commons/json';
import { defaultSecretFilePath } from '#commons/local/file-secret-store';
import { clusterSecretName } from '#commons/naming';
import { workflowLog } from '#commons/observability/logger';
import type { ConsulApi } from '#commons/ports/consul-api';
import type { EventPublisher } from '#commons/ports/event-publisher';
import type { RotatingSecretStore } from '#commons/ports/secret-store';
import { QueueEventPublisher, type EventRoutes } from '#commons/queue-event-publisher';
import { secretsKmsKeyIdFromEnv, settingsFromEnv } from '#commons/wiring/settings-from-env';
import { buildWorkflowContext } from '#commons/wiring/workflow-context';
import { rotateGatewayToken, ROTATION_STEPS } from '#commons/workflows/rotate-gateway-token';
import type { PipelineSettings, WorkflowContext } from '#commons/workflows/context';
import { LocalPipeline } from '../local/pipeline';
import { messageOf, OperationError, UsageError } from './errors';
import type { Output } from './io';
import type { BackendChoice } from './options';
import { describeEvent, localLogger, progressHooks } from '../local/progress';

/** Per-request budget of the CLI's own Consul reads: a dead cluster must not stall a status for long. */
const CONSUL_TIMEOUT_MS = 5_000;

export type Settled =
  { status: 'established'; detail: string } | { status: 'failed'; reason: string; message: string };

/**
 * Which request: its correlation id, and the pair or cluster it is about (a drift remediation sends
 * all its events under one correlation id).
 */
export interface RequestKey {
  correlationId: string;
  acceptor?: string;
  dialer?: string;
  cluster?: string;
}

export interface Runtime {
  readonly kind: 'local' | 'aws';
  /** Both backends' stores implement the rotation contract's version calls. */
  readonly secrets: RotatingSecretStore;
  readonly settings: PipelineSettings;
  /** Where secrets and queues are, for the first progress line. */
  readonly description: string;
  publish(event: PipelineEvent): Promise<void>;
  /** The context the workflows run with (drift scan and remediation). */
  workflowContext(): WorkflowContext;
  /**
   * What the local pipeline saw of a request: its outcome event, or a dead letter of one of its
   * events. Always undefined on AWS, where the outcome queue is the deployed pipeline's.
   */
  settled(request: RequestKey): Settled | undefined;
  /**
   * Starts a rotation of a gateway token secret now and returns the id of the version it makes.
   * Local: the four steps run here, so it returns when AWSCURRENT has moved. AWS: Secrets Manager runs
   * the deployed rotation function asynchronously (RotateSecret); the caller waits for AWSCURRENT.
   */
  rotateNow(secretName: string): Promise<string>;
  /** The connection secret of a registered cluster (its token is registered for redaction). */
  connection(cluster: string): Promise<ClusterConnection>;
  /** A Consul client for a registered cluster; closed by close(). */
  consul(cluster: string): Promise<ConsulClient>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  backend: BackendChoice;
  env: NodeJS.ProcessEnv;
  out: Output;
}

export function consulClientFor(connection: ClusterConnection): ConsulClient {
  // The whole connection, as the functions pass it: CA, client certificate and partition included.
  return new ConsulClient({ ...connection, timeoutMs: CONSUL_TIMEOUT_MS, retry: { maxAttempts: 2 } });
}

abstract class BaseRuntime implements Runtime {
  abstract readonly kind: 'local' | 'aws';
  abstract readonly secrets: RotatingSecretStore;
  abstract readonly description: string;
  abstract publish(event: PipelineEvent): Promise<void>;
  abstract workflowContext(): WorkflowContext;
  abstract rotateNow(secretName: string): Promise<string>;
  protected readonly closers: (() => Promise<unknown>)[] = [];
  readonly #clients = new Map<string, ConsulClient>();

  constructor(
    readonly settings: PipelineSettings,
    protected readonly out: Output,
  ) {}

  settled(_request: RequestKey): Settled | undefined {
    return undefined;
  }

  async connection(cluster: string): Promise<ClusterConnection> {
    const name = clusterSecretName(this.settings.secretPrefix, cluster);
    const secret = await this.secrets.get(name);
    if (secret === undefined) {
      throw new UsageError(
        `unknown cluster "${cluster}": there is no connection secret ${name}; register it first (peerctl cluster add ${cluster} --address ...)`,
      );
    }
    this.out.redact(secret.value);
    try {
      const connection = parseConnection(cluster, secret.value);
      this.out.redact(connection.token);
      return connection;
    } catch (error) {
      throw new OperationError(`${name}: ${messageOf(error)}`);
    }
  }

  async consul(cluster: string): Promise<ConsulClient> {
    const cached = this.#clients.get(cluster);
    if (cached !== undefined) return cached;
    const client = consulClientFor(await this.connection(cluster));
    this.#clients.set(cluster, client);
    return client;
  }

  /** Consul APIs the workflows create, closed with the runtime. */
  protected track(api: ConsulApi): ConsulApi {
    if (api instanceof ConsulClient) this.closers.push(() => api.close());
    return api;
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled([...clients.map((c) => c.close()), ...this.closers.map((close) => close())]);
  }
}

class LocalRuntime extends BaseRuntime {
  readonly kind = 'local';
  readonly secrets: RotatingSecretStore;
  readonly description: string;
  readonly #pipeline: LocalPipeline;
  #started = false;
  #context: WorkflowContext | undefined;

  constructor(options: RuntimeOptions, settings: PipelineSettings) {
    super(settings, options.out);
    const secretsFile = options.backend.secretsFile ?? defaultSecretFilePath(options.env);
    this.#pipeline = LocalPipeline.inProcess({
      settings,
      logger: localLogger('peerctl', options.backend.verbose),
      hooks: progressHooks(options.out),
      onEvent: (event) => {
        // A re-check is not a change: the dialer's reason for waiting is shown once instead (progressHooks).
        if (event.type === 'peering.acceptor-ready' && event.data.attempt > 0) return;
        options.out.progress(describeEvent(event));
      },
      wrapConsul: (_cluster, api) => this.track(api),
      secretsFile,
    });
    this.secrets = this.#pipeline.secrets;
    this.description = `local: secrets in ${secretsFile}, in-process queues`;
  }

  async publish(event: PipelineEvent): Promise<void> {
    this.#start();
    await this.#pipeline.publish(event);
  }

  workflowContext(): WorkflowContext {
    if (this.#context === undefined) {
      const context = this.#pipeline.workflowContext();
      const events: EventPublisher = {
        publish: (event, options) => {
          this.#start();
          return context.events.publish(event, options);
        },
      };
      this.#context = { ...context, events };
    }
    return this.#context;
  }

  override settled(request: RequestKey): Settled | undefined {
    const same = (names: Omit<RequestKey, 'correlationId'>): boolean =>
      (request.acceptor === undefined || names.acceptor === request.acceptor) &&
      (request.dialer === undefined || names.dialer === request.dialer) &&
      (request.cluster === undefined || names.cluster === request.cluster);
    const outcome = this.#pipeline
      .outcomes()
      .find(
        (o) =>
          o.correlationId === request.correlationId &&
          same({ acceptor: o.data.acceptor.name, dialer: o.data.dialer.name }),
      );
    if (outcome?.type === 'peering.established') {
      return {
        status: 'established',
        detail: `${outcome.data.acceptor.name} ${outcome.data.acceptorState} / ${outcome.data.dialer.name} ${outcome.data.dialerState}, peering id ${outcome.data.peeringId}`,
      };
    }
    if (outcome?.type === 'peering.failed') {
      return { status: 'failed', reason: outcome.data.reason, message: outcome.data.message };
    }
    const letter = this.#pipeline
      .deadLettered()
      .find((d) => d.correlationId === request.correlationId && same(namesOf(d.body)));
    if (letter === undefined) return undefined;
    const message =
      letter.reason === 'retries-exhausted' ? `${letter.error} (the retries above say why)` : letter.error;
    return { status: 'failed', reason: letter.reason, message };
  }

  async rotateNow(secretName: string): Promise<string> {
    // What Secrets Manager does with the deployed function, in this process: one version id, the four
    // steps in order. createSecret makes the version itself, as nothing made it beforehand.
    const versionId = randomUUID();
    const context = {
      secrets: this.secrets,
      clusters: new SecretBackedClusterDirectory(
        this.secrets,
        (connection) => this.track(consulClientFor(connection)),
        this.settings.secretPrefix,
      ),
      // Tracked clients are closed when peerctl ends.
      withConsulAs: <T>(
        connection: ClusterConnection,
        token: string,
        use: (consul: ConsulApi) => Promise<T>,
      ) => use(this.track(consulClientFor({ ...connection, token }))),
      secretPrefix: this.settings.secretPrefix,
      log: workflowLog(localLogger('peerctl', false)),
    };
    for (const step of ROTATION_STEPS) {
      await rotateGatewayToken({ secretId: secretName, versionId, step }, context);
      this.out.progress(`rotation ${step}: done`);
    }
    return versionId;
  }

  /** The handlers (and the pipeline's dead-letter reader) run from the first publish until close(). */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#pipeline.start();
  }

  override async close(): Promise<void> {
    // The pipeline first: its handlers may still be using the Consul clients.
    if (this.#started) await this.#pipeline.stop();
    await super.close();
  }
}

class AwsRuntime extends BaseRuntime {
  readonly kind = 'aws';
  readonly secrets: SecretsManagerSecretStore;
  readonly description: string;
  readonly #publisher: EventPublisher;
  #context: WorkflowContext | undefined;

  constructor(options: RuntimeOptions, settings: PipelineSettings) {
    super(settings, options.out);
    // The SDK reads AWS_ENDPOINT_URL and AWS_REGION itself; given here too, so the environment peerctl
    // was handed is the one that counts (tests hand it their own).
    const endpoint = options.env.AWS_ENDPOINT_URL;
    const region = options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION;
    const config = {
      ...(endpoint === undefined || endpoint === '' ? {} : { endpoint }),
      ...(region === undefined || region === '' ? {} : { region }),
    };
    const secretsManager = new SecretsManagerClient(config);
    const sqs = new SQSClient(config);
    this.closers.push(() => {
      secretsManager.destroy();
      sqs.destroy();
      return Promise.resolve();
    });
    // The clusters/* secrets peerctl writes go under the same key as the service's (SECRETS_KMS_KEY_ID,
    // the stack's QueueKeyArn output): docs/deploy.md.
    this.secrets = new SecretsManagerSecretStore(secretsManager, {
      kmsKeyId: secretsKmsKeyIdFromEnv(options.env),
    });
    // peerctl starts requests only: it publishes to the first two steps' queues, never to the others.
    const routes: Partial<EventRoutes> = {};
    const { onboardQueueUrl, acceptQueueUrl } = options.backend;
    if (onboardQueueUrl !== undefined)
      routes['cluster.registered'] = new SqsQueue({ queueUrl: onboardQueueUrl, client: sqs });
    if (acceptQueueUrl !== undefined)
      routes['peering.requested'] = new SqsQueue({ queueUrl: acceptQueueUrl, client: sqs });
    const queues = new QueueEventPublisher(routes);
    this.#publisher = {
      publish: async (event, publishOptions) => {
        await queues.publish(event, publishOptions);
        options.out.progress(`published ${describeEvent(event)}`);
      },
    };
    this.description = `aws: Secrets Manager and SQS${endpoint === undefined || endpoint === '' ? '' : ` at ${endpoint}`}`;
  }

  publish(event: PipelineEvent): Promise<void> {
    return this.#publisher.publish(event);
  }

  rotateNow(secretName: string): Promise<string> {
    return this.secrets.rotateNow(secretName);
  }

  workflowContext(): WorkflowContext {
    this.#context ??= buildWorkflowContext({
      secrets: this.secrets,
      consul: (connection) => this.track(consulClientFor(connection)),
      events: this.#publisher,
      log: workflowLog(localLogger('peerctl', false)),
      settings: this.settings,
    });
    return this.#context;
  }
}

export function openRuntime(options: RuntimeOptions): Runtime {
  let settings: PipelineSettings;
  try {
    settings = { ...settingsFromEnv(options.env), secretPrefix: options.backend.secretPrefix };
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  return options.backend.aws ? new AwsRuntime(options, settings) : new LocalRuntime(options, settings);
}

/** The names a dead-lettered event is about (its body may be anything). */
function namesOf(body: string): Omit<RequestKey, 'correlationId'> {
  const event = parseJsonOrUndefined(body) as
    | {
        data?: { cluster?: { name?: unknown }; acceptor?: { name?: unknown }; dialer?: { name?: unknown } };
      }
    | undefined;
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  return {
    cluster: text(event?.data?.cluster?.name),
    acceptor: text(event?.data?.acceptor?.name),
    dialer: text(event?.data?.dialer?.name),
  };
}
