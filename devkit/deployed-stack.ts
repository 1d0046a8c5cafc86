import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SQSClient,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import type { FunctionName } from '../infra/constructs/bundle-options';
import type { MotoClientConfig } from './moto';
import { LambdaEmulator, type InvokeResult, type LambdaRuntime } from './lambda-emulator';
import { startSqsEventSourceMapping, type Delivery } from './sqs-event-source-mapping';
import type { SynthesizedFunction, SynthesizedStack, TemplateValue } from './synthesized-stack';

const UNCAPPED_CONCURRENCY = 5;

export interface DeployedStackOptions {
  stack: SynthesizedStack;
  runtime: LambdaRuntime;
  /** Where the functions' AWS calls go (AWS_ENDPOINT_URL), with its region and dummy credentials. */
  aws: MotoClientConfig;
  /** Queue names are `<prefix>-<logical id>`, so several stacks can share one SQS endpoint. */
  queueNamePrefix: string;
  /**
   * Per consuming function, a shorter visibility timeout for its queue than the template's (which is
   * 6x the function timeout, minutes): only so a test sees a redelivery in seconds. Keep it above the
   * longest invocation, or a record still being processed is delivered a second time.
   */
  visibilityTimeoutSeconds?: Partial<Record<FunctionName, number>>;
  /** Added to a function's environment (settings the template leaves at their defaults). */
  environment?: Partial<Record<FunctionName, Record<string, string>>>;
}

export interface LocalQueue {
  logicalId: string;
  url: string;
  arn: string;
}

export interface RuntimeLogLine {
  functionName: FunctionName;
  line: string;
}

/**
 * The synthesized stack, run locally as deployed: every queue of the template created on the SQS
 * endpoint with its visibility timeout and redrive policy, every function's bundle in the Lambda
 * runtime (emulator + runtime client, Node 22) with the template's environment, deploy-time
 * references resolved to the local queues, and every SQS event source mapping polling its queue with
 * the template's batch size and maximum concurrency. Functions without a mapping (the Slack command
 * behind its URL, the scheduled drift scan) are invoked directly.
 */
export class DeployedStack {
  readonly deliveries: Delivery[] = [];
  readonly #environments: LambdaEmulator[] = [];
  readonly #direct = new Map<FunctionName, LambdaEmulator>();
  readonly #abort = new AbortController();
  readonly #printed = new Map<LambdaEmulator, number>();
  readonly #resolvedEnvironments = new Map<FunctionName, Record<string, string>>();
  #mappings: Promise<unknown>[] = [];

  private constructor(
    readonly stack: SynthesizedStack,
    readonly queues: Map<string, LocalQueue>,
    private readonly sqs: SQSClient,
  ) {}

  static async start(options: DeployedStackOptions): Promise<DeployedStack> {
    const sqs = new SQSClient(options.aws);
    const queues = await createQueues(sqs, options);
    const deployed = new DeployedStack(options.stack, queues, sqs);
    try {
      await deployed.#startFunctions(options);
    } catch (error) {
      await deployed.stop();
      throw error;
    }
    return deployed;
  }

  async #startFunctions(options: DeployedStackOptions): Promise<void> {
    const { stack, runtime, aws } = options;
    for (const fn of stack.functions) {
      const environment = {
        ...resolveEnvironment(
          fn,
          this.queues,
          aws,
          new Set(stack.kmsKeys),
          new Set(stack.functions.map((f) => f.logicalId)),
        ),
        ...options.environment?.[fn.name],
      };
      this.#resolvedEnvironments.set(fn.name, environment);
      const emulated = {
        functionName: `${stack.stackName}-${fn.logicalId}`,
        taskRoot: fn.assetDir,
        handler: fn.handler,
        timeoutSeconds: fn.timeoutSeconds,
        memorySize: fn.memorySize,
        environment,
      };
      // Without a MaximumConcurrency, Lambda starts an SQS mapping at five concurrent batches and scales
      // up from there with the backlog; five is plenty locally.
      const count =
        fn.eventSource === undefined ? 1 : Math.min(fn.eventSource.maximumConcurrency, UNCAPPED_CONCURRENCY);
      const started = await Promise.all(
        Array.from({ length: count }, () => LambdaEmulator.start(runtime, emulated)),
      );
      this.#environments.push(...started);
      const [first] = started;
      if (fn.eventSource === undefined) {
        if (first !== undefined) this.#direct.set(fn.name, first);
        continue;
      }
      const queue = this.queue(fn.eventSource.queueLogicalId);
      const mapping = startSqsEventSourceMapping({
        sqs: this.sqs,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region: aws.region,
        batchSize: fn.eventSource.batchSize,
        reportBatchItemFailures: fn.eventSource.reportBatchItemFailures,
        environments: started,
        onDelivery: (delivery) => this.deliveries.push(delivery),
        signal: this.#abort.signal,
      });
      // A poller that dies (moto gone) must not take the test process with it; stop() awaits them.
      this.#mappings.push(mapping.catch((error: unknown) => error));
    }
  }

  function(name: FunctionName): SynthesizedFunction {
    const fn = this.stack.functions.find((candidate) => candidate.name === name);
    if (fn === undefined) throw new Error(`the stack has no function ${name}`);
    return fn;
  }

  /** A function's environment as it runs: the template's, with the local references resolved. */
  environment(name: FunctionName): Record<string, string> {
    const environment = this.#resolvedEnvironments.get(name);
    if (environment === undefined) throw new Error(`the stack has no function ${name}`);
    return environment;
  }

  queue(logicalId: string): LocalQueue {
    const queue = this.queues.get(logicalId);
    if (queue === undefined) throw new Error(`the stack has no queue ${logicalId}`);
    return queue;
  }

  /** The queue a function consumes (its event source). */
  sourceQueue(name: FunctionName): LocalQueue {
    const source = this.function(name).eventSource;
    if (source === undefined) throw new Error(`${name} has no SQS event source`);
    return this.queue(source.queueLogicalId);
  }

  /** The queue every redrive policy points at. */
  deadLetterQueue(): LocalQueue {
    const targets = new Set(this.stack.queues.flatMap((q) => q.redrive?.deadLetterQueueLogicalId ?? []));
    const [only] = targets;
    if (targets.size !== 1 || only === undefined)
      throw new Error(`expected one dead-letter queue, found ${targets.size}`);
    return this.queue(only);
  }

  /** A synchronous invocation (RequestResponse) of a function without an event source. */
  invoke(name: FunctionName, payload: unknown): Promise<InvokeResult> {
    const environment = this.#direct.get(name);
    if (environment === undefined) throw new Error(`${name} is fed by its queue; send to it instead`);
    return environment.invoke(payload);
  }

  /** Every line the emulators and runtimes printed so far: Lambda's own lines and the functions' logs. */
  logLines(): RuntimeLogLine[] {
    return this.#environments.flatMap((environment) => {
      const name = this.#nameOf(environment);
      return environment.output
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => ({ functionName: name, line }));
    });
  }

  /** The lines printed since the last call (each environment's output only grows). */
  newLogLines(): RuntimeLogLine[] {
    return this.#environments.flatMap((environment) => {
      const output = environment.output;
      const start = environment.outputLength - output.length; // where `output` begins, in all printed
      const seen = Math.max(this.#printed.get(environment) ?? 0, start);
      const end = start + output.lastIndexOf('\n') + 1; // whole lines only
      if (end <= seen) return [];
      this.#printed.set(environment, end);
      const name = this.#nameOf(environment);
      return output
        .slice(seen - start, end - start)
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => ({ functionName: name, line }));
    });
  }

  #nameOf(environment: LambdaEmulator): FunctionName {
    const fn = this.stack.functions.find((candidate) =>
      environment.fn.functionName.endsWith(`-${candidate.logicalId}`),
    );
    return fn?.name ?? ('unknown' as FunctionName);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#mappings);
    await Promise.all(this.#environments.map((environment) => environment.stop()));
    this.sqs.destroy();
  }
}

async function createQueues(sqs: SQSClient, options: DeployedStackOptions): Promise<Map<string, LocalQueue>> {
  const queues = new Map<string, LocalQueue>();
  const consumerOf = (logicalId: string) =>
    options.stack.functions.find((fn) => fn.eventSource?.queueLogicalId === logicalId);
  // Dead-letter queues first: a redrive policy names its target's ARN.
  const ordered = [...options.stack.queues].sort(
    (a, b) => Number(a.redrive !== undefined) - Number(b.redrive !== undefined),
  );
  for (const queue of ordered) {
    const consumer = consumerOf(queue.logicalId);
    const visibility =
      (consumer && options.visibilityTimeoutSeconds?.[consumer.name]) ?? queue.visibilityTimeoutSeconds;
    const attributes: Partial<Record<QueueAttributeName, string>> = { VisibilityTimeout: String(visibility) };
    if (queue.redrive !== undefined) {
      const target = queues.get(queue.redrive.deadLetterQueueLogicalId);
      if (target === undefined)
        throw new Error(`${queue.logicalId}: its dead-letter queue is not in the stack`);
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: target.arn,
        maxReceiveCount: queue.redrive.maxReceiveCount,
      });
    }
    const name = `${options.queueNamePrefix}-${queue.logicalId}`;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (QueueUrl === undefined) throw new Error(`SQS gave no URL for ${name}`);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    queues.set(queue.logicalId, {
      logicalId: queue.logicalId,
      url: QueueUrl,
      arn: Attributes?.QueueArn ?? '',
    });
  }
  return queues;
}

/**
 * The function's environment as Lambda would set it: the template's variables with each deploy-time
 * reference resolved against the local resources, plus what the platform adds (region, credentials,
 * the JSON log format). An unknown reference fails loudly, naming the variable: the runner must learn
 * it, or the template changed in a way the test world does not model.
 */
export function resolveEnvironment(
  fn: SynthesizedFunction,
  queues: Map<string, LocalQueue>,
  aws: MotoClientConfig,
  kmsKeys: ReadonlySet<string> = new Set(),
  functionIds: ReadonlySet<string> = new Set(),
): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(fn.environment)) {
    environment[name] = resolveValue(
      value,
      queues,
      aws,
      kmsKeys,
      functionIds,
      () => `${fn.name}: environment variable ${name}`,
    );
  }
  return {
    ...environment,
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    TZ: ':UTC',
    ...(fn.logFormat !== undefined && { AWS_LAMBDA_LOG_FORMAT: fn.logFormat }),
  };
}

function resolveValue(
  value: TemplateValue,
  queues: Map<string, LocalQueue>,
  aws: MotoClientConfig,
  kmsKeys: ReadonlySet<string>,
  functionIds: ReadonlySet<string>,
  where: () => string,
): string {
  if (typeof value !== 'object') return String(value);
  const fail = (): never => {
    throw new Error(
      `${where()} is ${JSON.stringify(value)}, a deploy-time reference the local runner cannot resolve ` +
        `(it knows queue URLs, ARNs and names, and AWS::Region/AccountId/Partition/URLSuffix)`,
    );
  };
  if ('Ref' in value) {
    const id = String(value.Ref);
    const queue = queues.get(id);
    if (queue !== undefined) return queue.url;
    const pseudo: Record<string, string> = {
      'AWS::Region': aws.region,
      'AWS::AccountId': '123456789012',
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
    };
    return pseudo[id] ?? fail();
  }
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    // moto takes any key ARN as a secret's KmsKeyId (it does not encrypt), so the key needs no creating.
    if (kmsKeys.has(id) && attribute === 'Arn') return `arn:aws:kms:${aws.region}:123456789012:key/${id}`;
    if (functionIds.has(id) && attribute === 'Arn')
      return `arn:aws:lambda:${aws.region}:123456789012:function:${id}`;
    const queue = queues.get(id);
    if (queue === undefined) return fail();
    if (attribute === 'Arn') return queue.arn;
    if (attribute === 'QueueUrl') return queue.url;
    if (attribute === 'QueueName') return queue.url.split('/').at(-1) ?? fail();
    return fail();
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, TemplateValue[]];
    return parts.map((part) => resolveValue(part, queues, aws, kmsKeys, functionIds, where)).join(separator);
  }
  return fail();
}
