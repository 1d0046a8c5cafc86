import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { ConsulClient } from '#commons/consul/client';
import type { ConfigEntry } from '#commons/ports/consul-types';
import { createEvent, type ClusterRef, type PipelineEvent } from '#commons/events/index';
import { clusterSecretName, gatewayTokenSecretName, peeringTokenSecretName } from '#commons/naming';
import { sign } from '#commons/slack/verify-signature';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { FUNCTION_NAMES } from '../../infra/constructs/bundle-options';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { DeployedStack, resolveEnvironment, type RuntimeLogLine } from '#devkit/deployed-stack';
import { LambdaEmulator, resolveLambdaRuntime, type LambdaRuntime } from '#devkit/lambda-emulator';
import { readSynthesizedStack, synthesize, type SynthesizedStack } from '#devkit/synthesized-stack';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMoto, type MotoServer } from '#devkit/moto';
import { lastTestFailed } from '../support/integration-setup';
import { pollUntil } from '#devkit/poll';

// What is deployed is what is tested: the bundles `cdk synth` wrote, run by the Lambda Runtime
// Interface Emulator and the Node.js runtime interface client on Node 22, with the environment of the
// synthesized template (queue references resolved to moto's queues), fed by SQS event source mappings
// that keep the template's batch sizes and concurrency caps. Consul is real (two datacenters), the
// AWS side is moto, and TCP relays stand in for the Envoy mesh gateways.
const PREFIX = 'consul-peering';
const SIGNING_SECRET = 'deployed-bundles-signing-secret';
const USER = 'U0DEPLOYED';
const CHANNEL = 'C0DEPLOYED';

const AUTOMATION_RULES = `
acl       = "write"
peering   = "write"
mesh      = "write"
service "mesh-gateway" { policy = "write" }
service_prefix "" { policy = "read" }
node_prefix ""    { policy = "read" }
key_prefix "consul-peering-automation/locks/" { policy = "write" }
`;

let runtime: LambdaRuntime;
let cdkOut: string;
let synthesized: SynthesizedStack;
let moto: MotoServer;
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;
let clusters: LocalConsulCluster[];
let gateway1: SniRoutingGateway, gateway2: SniRoutingGateway;
let deployed: DeployedStack;
let sqs: SQSClient;
let secrets: SecretsManagerSecretStore;
const automationTokens: string[] = [];
/** Every dead letter read so far (reading hides a message, so each is read once and kept here). */
const deadLetters: Message[] = [];
const cleanups: (() => Promise<void>)[] = [];
/** What the runtimes printed; nothing until the stack has started. */
let runtimeLines = (): RuntimeLogLine[] => [];

const ref = (cluster: LocalConsulCluster): ClusterRef => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
const gatewayOf = (relay: SniRoutingGateway) => {
  const hostPort = { address: '127.0.0.1', port: relay.port };
  return { lan: hostPort, wan: hostPort };
};
const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });

/** As the pipeline's own publisher sends an event (the correlation id also as a message attribute). */
async function send(queueUrl: string, event: PipelineEvent | string): Promise<string> {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  const { MessageId } = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      ...(typeof event !== 'string' && {
        MessageAttributes: { correlationId: { DataType: 'String', StringValue: event.correlationId } },
      }),
    }),
  );
  return MessageId ?? '';
}

async function readDeadLetters(): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: deployed.deadLetterQueue().url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  for (const message of Messages) {
    deadLetters.push(message);
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: deployed.deadLetterQueue().url,
        ReceiptHandle: message.ReceiptHandle,
      }),
    );
  }
  return deadLetters;
}

/** The structured log lines (Powertools JSON) a function printed, parsed. */
function functionLogs(name: string): Record<string, unknown>[] {
  return deployed
    .logLines()
    .filter((entry) => entry.functionName === name && entry.line.startsWith('{'))
    .flatMap((entry) => {
      try {
        return [JSON.parse(entry.line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

function slashCommand(text: string, secret = SIGNING_SECRET): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({
    token: 'legacy',
    team_id: 'T0001',
    channel_id: CHANNEL,
    user_id: USER,
    user_name: 'alice',
    command: '/peering',
    text,
    response_url: 'https://hooks.slack.com/commands/T0001/1/deployed',
  }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
  // The event a function URL delivers (payload format 2.0) for a form POST.
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': `v0=${sign(secret, timestamp, body)}`,
    },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'slack-command-url',
      domainName: 'slack-command-url.lambda-url.us-east-1.on.aws',
      domainPrefix: 'slack-command-url',
      http: { method: 'POST', path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Slackbot' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  };
}

beforeAll(async () => {
  runtime = resolveLambdaRuntime(path.resolve(__dirname, '../..'));
  cdkOut = await mkdtemp(path.join(tmpdir(), 'deployed-bundles-'));
  cleanups.push(() => rm(cdkOut, { recursive: true, force: true }));
  [, moto, clusters] = await Promise.all([
    synthesize(cdkOut, {
      'consulPeering:slackAllowedUserIds': USER,
      'consulPeering:slackAllowedChannelIds': CHANNEL,
    }),
    startMoto(),
    startConsulClusters(2),
  ]);
  cleanups.push(
    () => moto.stop(),
    async () => {
      await Promise.all(clusters.map((cluster) => cluster.stop()));
    },
  );
  [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  synthesized = await readSynthesizedStack(cdkOut);
  [gateway1, gateway2] = (await startMeshGateways([dc1, dc2])) as [SniRoutingGateway, SniRoutingGateway];
  cleanups.push(async () => {
    await Promise.all([gateway1.close(), gateway2.close()]);
  });
  sqs = new SQSClient(moto.clientConfig);
  cleanups.push(() => {
    sqs.destroy();
    return Promise.resolve();
  });
  secrets = new SecretsManagerSecretStore(new SecretsManagerClient(moto.clientConfig));

  // The functions run with the README's least-privilege automation token, not the management token.
  for (const [cluster, relay] of [
    [dc1, gateway1],
    [dc2, gateway2],
  ] as const) {
    const client = admin(cluster);
    const policy = await client.createPolicy({ name: 'peering-automation', rules: AUTOMATION_RULES });
    const secretId = randomUUID();
    await client.createToken({ accessorId: randomUUID(), secretId, policies: [{ id: policy.id }] });
    await client.close();
    automationTokens.push(secretId);
    await secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: secretId, gateway: gatewayOf(relay) }),
    );
  }
  await secrets.put(`${PREFIX}/slack/signing-secret`, SIGNING_SECRET);

  deployed = await DeployedStack.start({
    stack: synthesized,
    runtime,
    aws: moto.clientConfig,
    queueNamePrefix: 'deployed',
    // The template's visibility timeouts are 6x each function's timeout (3 to 6 minutes): a record the
    // accept step reports failed comes back in 3 s here instead, and the dial step keeps a minute
    // (it polls for ACTIVE for up to 15 s after a synchronous establish).
    visibilityTimeoutSeconds: {
      'onboard-cluster': 10,
      'accept-peering': 3,
      'dial-peering': 60,
      'notify-outcome': 10,
    },
    // moto holds no Lambda functions (it would need IAM roles and Docker to run one), so RotateSecret
    // with the template's rotation function ARN is refused there: onboarding schedules no rotation
    // here. The rotation steps are tested as Secrets Manager drives them in
    // functions/commons/workflows/rotate-gateway-token.test.ts.
    environment: { 'onboard-cluster': { ROTATION_FUNCTION_ARN: '' } },
  });
  cleanups.push(() => deployed.stop());
  runtimeLines = () => deployed.logLines();
}, 300_000);

// A failing test gets the end of what the runtimes printed (Lambda's lines and the functions' logs).
afterEach(() => {
  if (!lastTestFailed()) return;
  const tail = runtimeLines().slice(-80);
  console.error(
    `--- last lines of the Lambda runtimes ---\n${tail.map((entry) => `[${entry.functionName}] ${entry.line}`).join('\n')}`,
  );
});

afterAll(async () => {
  // Last started, first stopped; only what beforeAll got to start.
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test('the runner found every function of the template, with its runtime, event source and URL', () => {
  expect(synthesized.functions.map((fn) => fn.name).sort()).toEqual([...FUNCTION_NAMES].sort());
  for (const fn of synthesized.functions) expect(fn.runtime).toBe('nodejs22.x');
  expect(deployed.function('dial-peering').eventSource).toMatchObject({
    batchSize: 1,
    maximumConcurrency: 5,
    reportBatchItemFailures: true,
  });
  expect(deployed.function('slack-command').hasFunctionUrl).toBe(true);
});

test('a poison message is dead-lettered with its reason, and nothing else happens', async () => {
  const messageId = await send(deployed.sourceQueue('onboard-cluster').url, '{"type":"cluster.registered"');
  const letter = await pollUntil('the poison message in the DLQ', async () =>
    (await readDeadLetters()).find(
      (message) => message.MessageAttributes?.sourceMessageId?.StringValue === messageId,
    ),
  );
  expect(letter.Body).toBe('{"type":"cluster.registered"');
  expect(letter.MessageAttributes?.reason?.StringValue).toBe('validation');
  expect(letter.MessageAttributes?.error?.StringValue).toMatch(/JSON/i);
  // Handled (dead-lettered by the function), so the mapping deleted it from the source queue.
  const delivery = await pollUntil('the mapping to finish with the poison message', () =>
    Promise.resolve(deployed.deliveries.find((d) => d.messageIds.includes(messageId))),
  );
  expect(delivery.deleted).toEqual([messageId]);
});

test('peering.requested before onboarding is retried until both clusters are onboarded, then ACTIVE on both sides through both gateways', async () => {
  const correlationId = 'deployed-chain';
  const requestId = await send(
    deployed.sourceQueue('accept-peering').url,
    createEvent(
      'peering.requested',
      { acceptor: ref(dc1), dialer: ref(dc2), exportServices: ['web'] },
      { correlationId },
    ),
  );
  // The acceptor is not onboarded: its precondition fails, the function reports the record in
  // batchItemFailures and the mapping leaves it on the queue.
  const first = await pollUntil('the first delivery of the request', () =>
    Promise.resolve(deployed.deliveries.find((d) => d.messageIds.includes(requestId))),
  );
  expect(first.deleted).toEqual([]);
  expect(first.failure).toBe(`batchItemFailures: ${requestId}`);

  for (const [cluster, relay] of [
    [dc1, gateway1],
    [dc2, gateway2],
  ] as const) {
    await send(
      deployed.sourceQueue('onboard-cluster').url,
      createEvent(
        'cluster.registered',
        { cluster: ref(cluster), gateway: gatewayOf(relay) },
        { correlationId },
      ),
    );
  }

  // The outcome notifier (fed by the outcome queue) logs the pipeline's last word.
  const established = await pollUntil(
    'the outcome notifier to log the established peering',
    () =>
      Promise.resolve(
        functionLogs('notify-outcome').find(
          (entry) => entry.message === 'peering established' && entry.correlationId === correlationId,
        ),
      ),
    { timeoutMs: 150_000, intervalMs: 500 },
  );
  expect(established).toMatchObject({
    acceptor: 'dc1',
    dialer: 'dc2',
    acceptorState: 'ACTIVE',
    dialerState: 'ACTIVE',
  });

  // The retry was honoured: the same record came back and its last delivery deleted it.
  const requestDeliveries = deployed.deliveries.filter((d) => d.messageIds.includes(requestId));
  expect(requestDeliveries.length).toBeGreaterThanOrEqual(2);
  expect(requestDeliveries.at(-1)?.deleted).toEqual([requestId]);
  const retried = functionLogs('accept-peering').filter(
    (entry) => entry.message === 'will be retried' && entry.messageId === requestId,
  );
  // Handed back with a backoff delay (ChangeMessageVisibility), not left to the visibility timeout.
  expect(retried[0]).toMatchObject({
    reason: expect.any(String) as unknown,
    receiveCount: expect.any(Number) as unknown,
    retryInSeconds: expect.any(Number) as unknown,
  });

  const [c1, c2] = [admin(dc1), admin(dc2)];
  expect((await c1.readPeering('dc2'))?.state).toBe('ACTIVE');
  expect((await c2.readPeering('dc1'))?.state).toBe('ACTIVE');
  await Promise.all([c1.close(), c2.close()]);
  // The handshake and the stream went through both gateways.
  // dc2's gateway routed dc1's server name to dc1's gateway, which routed it to its own server.
  for (const relay of [gateway1, gateway2]) {
    const route = relay.routed('dc1');
    expect(route.connections).toBeGreaterThan(0);
    expect(route.bytesIn).toBeGreaterThan(0);
    expect(route.bytesOut).toBeGreaterThan(0);
    expect(relay.unroutedReasons).toEqual([]);
  }
});

test('the scheduled drift scan finds the mesh flag turned off and heals it through the onboarding function', async () => {
  const client = admin(dc1);
  const current = await client.readConfigEntryRaw('mesh', 'mesh');
  const entry = structuredClone<ConfigEntry>(current?.entry ?? { Kind: 'mesh' });
  delete entry.CreateIndex;
  delete entry.ModifyIndex;
  entry.Peering = { PeerThroughMeshGateways: false };
  await client.writeConfigEntryCas(entry, current?.modifyIndex ?? 0);

  // EventBridge's scheduled event, as the rule delivers it.
  const { payload, error } = await deployed.invoke('drift-remediation', {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/drift'],
    detail: {},
  });
  expect(error).toBeUndefined();
  expect(payload).toMatchObject({ dryRun: false, clusters: 2, peerings: 1 });
  expect((payload as { findingsByKind: Record<string, number> }).findingsByKind['mesh-flag-off']).toBe(1);

  await pollUntil(
    'the mesh flag back on dc1',
    async () => {
      const mesh = (await client.readConfigEntryRaw('mesh', 'mesh'))?.entry;
      const peering = mesh?.Peering as { PeerThroughMeshGateways?: boolean } | undefined;
      return peering?.PeerThroughMeshGateways === true ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  await client.close();
});

test('the Slack command answers a signed request through its function URL event and refuses a forged one', async () => {
  const { payload, error } = await deployed.invoke('slack-command', slashCommand('status'));
  expect(error).toBeUndefined();
  const response = payload as APIGatewayProxyStructuredResultV2;
  expect(response.statusCode).toBe(200);
  const reply = JSON.parse(String(response.body)) as { response_type: string; text: string };
  expect(reply.response_type).toBe('ephemeral');
  expect(reply.text).toContain('dc1');
  expect(reply.text).toContain('dc2');

  const forged = await deployed.invoke('slack-command', slashCommand('status', 'not-the-secret'));
  expect((forged.payload as APIGatewayProxyStructuredResultV2).statusCode).toBe(401);
});

test('an init error (a missing environment variable) names the variable, with a source-mapped stack, in the runtime output', async () => {
  const fn = deployed.function('onboard-cluster');
  // The template's environment without the queue URLs (as if the stack had lost them).
  const environment = Object.fromEntries(
    Object.entries(
      resolveEnvironment(
        fn,
        deployed.queues,
        moto.clientConfig,
        new Set(synthesized.kmsKeys),
        new Set(synthesized.functions.map((f) => f.logicalId)),
      ),
    ).filter(([name]) => !name.endsWith('_QUEUE_URL')),
  );
  const broken = await LambdaEmulator.start(runtime, {
    functionName: 'onboard-cluster-without-its-queues',
    taskRoot: fn.assetDir,
    handler: fn.handler,
    timeoutSeconds: fn.timeoutSeconds,
    memorySize: fn.memorySize,
    environment,
  });
  try {
    const result = await broken.invoke({ Records: [] });
    // What the invoker gets back, and what Lambda would write to the function's log stream.
    expect(result.error?.errorMessage).toMatch(/environment variable \w+_QUEUE_URL is not set/);
    // Under the template's JSON log format the runtime client logs it as one JSON line, at ERROR.
    const initError = broken.output
      .split('\n')
      .find((line) => line.startsWith('{') && line.includes('"level":"ERROR"'));
    expect(initError).toMatch(/environment variable \w+_QUEUE_URL is not set/);
    expect(broken.output).toContain('INIT RTDONE(status: error)');
    // The stack trace survives, mapped to the sources (the template's NODE_OPTIONS=--enable-source-maps).
    expect(broken.output).toMatch(/functions\/commons\/wiring\/settings-from-env\.ts:\d+/);
  } finally {
    await broken.stop();
  }
});

test('no token appears in any line the runtimes printed', async () => {
  const tokens = [...clusters.map((cluster) => cluster.managementToken), ...automationTokens];
  const peering = await secrets.get(peeringTokenSecretName(PREFIX, 'dc1', 'dc2'));
  tokens.push((JSON.parse(peering?.value ?? '{}') as { peeringToken?: string }).peeringToken ?? '');
  for (const dc of ['dc1', 'dc2']) {
    const gateway = await secrets.get(gatewayTokenSecretName(PREFIX, dc));
    tokens.push((JSON.parse(gateway?.value ?? '{}') as { secretId?: string }).secretId ?? '');
  }
  const lines = deployed.logLines();
  // Lambda's own lines and the functions' structured logs, from every function that ran.
  expect(lines.some((entry) => entry.line.startsWith('REPORT RequestId:'))).toBe(true);
  expect(
    new Set(lines.filter((entry) => entry.line.startsWith('{')).map((entry) => entry.functionName)).size,
  ).toBeGreaterThanOrEqual(5);
  for (const token of tokens) {
    expect(token.length).toBeGreaterThan(30);
    expect(lines.filter((entry) => entry.line.includes(token))).toEqual([]);
  }
  for (const letter of deadLetters)
    for (const token of tokens) expect(JSON.stringify(letter)).not.toContain(token);
});
