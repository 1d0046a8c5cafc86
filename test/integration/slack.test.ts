import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSRecord } from 'aws-lambda';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import { createEvent, parseEvent } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import { systemClock } from '#commons/ports/clock';
import { QueueEventPublisher } from '#commons/queue-event-publisher';
import { slackResponseSecretName } from '#commons/slack/naming';
import { SlackResponsePoster } from '#commons/slack/response-poster';
import { sign } from '#commons/slack/verify-signature';
import { DEFAULT_SETTINGS, type WorkflowLog } from '#commons/workflows/context';
import { createNotifyOutcomeHandler } from '../../functions/notify-outcome/handler';
import { createSlackCommandHandler } from '../../functions/slack-command/handler';
import { slackSigningSecretLoader } from '../../functions/slack-command/signing-secret';
import { startMoto, type MotoServer } from '#devkit/moto';

// The Slack path on real parts: a moto server (Secrets Manager, SQS) started by this file, and a local
// HTTP server standing in for hooks.slack.com (the allowed base is injected, as only tests may).
const PREFIX = 'consul-peering';
const SIGNING_SECRET = 'integration-signing-secret';
const USER = 'U0INTEGRATION';
const CHANNEL = 'C0OPS';

let moto: MotoServer | undefined;
let startError: unknown;
let sqs!: SQSClient;
let secretsManager!: SecretsManagerClient;
let slack!: Server;
let slackBase!: string;
let slackPosts: { path: string; contentType: string | undefined; body: string }[];
let slackStatus: number;

beforeAll(async () => {
  try {
    moto = await startMoto();
  } catch (error) {
    startError = error;
    return;
  }
  sqs = new SQSClient(moto.clientConfig);
  secretsManager = new SecretsManagerClient(moto.clientConfig);
  slack = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      slackPosts.push({
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response
        .writeHead(slackStatus, { 'content-type': 'text/plain' })
        .end(slackStatus === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve));
  slackBase = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/`;
}, 30_000);

beforeEach(async () => {
  if (moto === undefined) throw startError instanceof Error ? startError : new Error(String(startError));
  await moto.reset();
  slackPosts = [];
  slackStatus = 200;
});

afterAll(async () => {
  if (moto === undefined) return;
  sqs.destroy();
  secretsManager.destroy();
  slack.closeAllConnections();
  await new Promise((resolve) => slack.close(resolve));
  await moto.stop();
});

const silent = new Logger({ serviceName: 'slack-integration', logLevel: 'SILENT' });
const noLog: WorkflowLog = { info: () => undefined, warn: () => undefined };

async function createQueue(name: string): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (QueueUrl === undefined) throw new Error(`moto created no queue ${name}`);
  return QueueUrl;
}

/** Everything on the queue right now (moto delivers all at once on a short long-poll). */
async function drain(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

const toRecord = (message: Message): SQSRecord =>
  ({
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: { ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1' },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { stringValue: value.StringValue, dataType: value.DataType ?? 'String' },
      ]),
    ),
  }) as unknown as SQSRecord;

function slashCommand(text: string, responseUrl: string, secret = SIGNING_SECRET): APIGatewayProxyEventV2 {
  const body = new URLSearchParams({
    token: 'legacy',
    team_id: 'T0001',
    channel_id: CHANNEL,
    user_id: USER,
    user_name: 'alice',
    command: '/peering',
    text,
    response_url: responseUrl,
  }).toString();
  const timestamp = String(Math.floor(Date.now() / 1000));
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
    requestContext: { http: { method: 'POST', path: '/' } },
    // As a function URL delivers a form body.
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  } as unknown as APIGatewayProxyEventV2;
}

async function world() {
  const secrets = new SecretsManagerSecretStore(secretsManager);
  await secrets.put(`${PREFIX}/slack/signing-secret`, SIGNING_SECRET);
  for (const name of ['dc1', 'dc2'])
    await secrets.put(clusterSecretName(PREFIX, name), JSON.stringify({ address: 'https://x', token: 't' }));
  const acceptQueueUrl = await createQueue('accept');
  const outcomeQueueUrl = await createQueue('outcomes');
  const deadLetterQueueUrl = await createQueue('dead-letters');
  const slackCommand = createSlackCommandHandler({
    config: {
      secretPrefix: PREFIX,
      allowedUserIds: new Set([USER]),
      allowedChannelIds: new Set([CHANNEL]),
      responseUrlBase: slackBase,
    },
    signingSecret: slackSigningSecretLoader(secrets, `${PREFIX}/slack/signing-secret`),
    secrets,
    events: new QueueEventPublisher({
      'peering.requested': new SqsQueue({ queueUrl: acceptQueueUrl, client: sqs }),
    }),
    clock: systemClock,
    logger: silent,
  });
  const outcomes = new QueueEventPublisher({
    'peering.established': new SqsQueue({ queueUrl: outcomeQueueUrl, client: sqs }),
  });
  const notify = createNotifyOutcomeHandler({
    context: {
      secrets,
      secretPrefix: PREFIX,
      slack: new SlackResponsePoster({ allowedBase: slackBase, timeoutMs: 2_000 }),
      log: noLog,
    },
    deadLetters: new SqsQueue({ queueUrl: deadLetterQueueUrl, client: sqs }),
    source: new SqsQueue({ queueUrl: outcomeQueueUrl, client: sqs }),
    retry: DEFAULT_SETTINGS,
    logger: silent,
  });
  return { secrets, slackCommand, notify, outcomes, acceptQueueUrl, outcomeQueueUrl, deadLetterQueueUrl };
}

test('a signed /peering peer is queued without its response_url, and the outcome is posted back', async () => {
  const w = await world();
  const responseUrl = `${slackBase}commands/T0001/42/capability-part`;

  const response = await w.slackCommand(slashCommand('peer dc1 dc2', responseUrl), {} as Context);
  expect(response.statusCode).toBe(200);
  const reply = JSON.parse(String(response.body)) as { response_type: string; text: string };
  expect(reply.response_type).toBe('ephemeral');
  const requestId = /\(request ([^)]+)\)/.exec(reply.text)?.[1];
  expect(requestId).toBeDefined();
  const correlationId = String(requestId);

  const stored = await w.secrets.get(slackResponseSecretName(PREFIX, correlationId));
  expect(JSON.parse(stored?.value ?? '{}')).toEqual({ responseUrl, userId: USER, channelId: CHANNEL });

  const queued = await drain(w.acceptQueueUrl);
  expect(queued).toHaveLength(1);
  const [message] = queued;
  const event = parseEvent(message?.Body ?? '');
  expect(event).toMatchObject({
    type: 'peering.requested',
    correlationId,
    data: {
      acceptor: { name: 'dc1', connectionSecret: clusterSecretName(PREFIX, 'dc1') },
      dialer: { name: 'dc2', connectionSecret: clusterSecretName(PREFIX, 'dc2') },
    },
  });
  expect(message?.MessageAttributes?.correlationId?.StringValue).toBe(correlationId);
  expect(JSON.stringify(message)).not.toContain('capability-part');
  expect(JSON.stringify(message)).not.toContain(slackBase);

  // The pipeline's last word, on the real outcome queue, through the notifier.
  await w.outcomes.publish(
    createEvent(
      'peering.established',
      {
        acceptor: { name: 'dc1', connectionSecret: clusterSecretName(PREFIX, 'dc1') },
        dialer: { name: 'dc2', connectionSecret: clusterSecretName(PREFIX, 'dc2') },
        peeringId: 'a1b2c3d4-0000-0000-0000-000000000001',
        acceptorState: 'ACTIVE',
        dialerState: 'ACTIVE',
      },
      { correlationId },
    ),
  );
  const outcomes = await drain(w.outcomeQueueUrl);
  expect(outcomes).toHaveLength(1);
  const result = await w.notify({ Records: outcomes.map(toRecord) }, {} as Context);
  expect(result.batchItemFailures).toEqual([]);

  expect(slackPosts).toHaveLength(1);
  expect(slackPosts[0]?.path).toBe('/commands/T0001/42/capability-part');
  expect(slackPosts[0]?.contentType).toMatch(/^application\/json/);
  const posted = JSON.parse(slackPosts[0]?.body ?? '{}') as { response_type: string; text: string };
  expect(posted.response_type).toBe('in_channel');
  expect(posted.text).toContain(`<@${USER}> :white_check_mark: Peering \`dc1\` → \`dc2\` is established`);
  expect(posted.text).toContain(`request ${correlationId}`);

  expect(await w.secrets.get(slackResponseSecretName(PREFIX, correlationId))).toBeUndefined();
  expect(await w.secrets.list({ namePrefix: `${PREFIX}/slack-responses/` })).toEqual([]);
  expect(await drain(w.deadLetterQueueUrl)).toEqual([]);
});

test('a forged request and an unknown cluster put nothing on the queue and store nothing', async () => {
  const w = await world();
  const responseUrl = `${slackBase}commands/T0001/43/x`;
  const forged = await w.slackCommand(slashCommand('peer dc1 dc2', responseUrl, 'guessed'), {} as Context);
  expect(forged.statusCode).toBe(401);
  const unknown = await w.slackCommand(slashCommand('peer dc1 dc9', responseUrl), {} as Context);
  expect((JSON.parse(String(unknown.body)) as { text: string }).text).toMatch(/Unknown cluster: `dc9`/);

  expect(await drain(w.acceptQueueUrl)).toEqual([]);
  expect(await w.secrets.list({ namePrefix: `${PREFIX}/slack-responses/` })).toEqual([]);
});

test('a Slack 5xx keeps the response_url for the retry; an expired one (404) is dropped', async () => {
  const w = await world();
  const responseUrl = `${slackBase}commands/T0001/44/y`;
  const response = await w.slackCommand(slashCommand('peer dc2 dc1', responseUrl), {} as Context);
  const correlationId = String(/\(request ([^)]+)\)/.exec(String(response.body))?.[1]);
  const outcome = createEvent(
    'peering.failed',
    {
      acceptor: { name: 'dc2', connectionSecret: clusterSecretName(PREFIX, 'dc2') },
      dialer: { name: 'dc1', connectionSecret: clusterSecretName(PREFIX, 'dc1') },
      reason: 'dialer-gateway-missing',
      message: 'Register a mesh gateway on dc1.',
    },
    { correlationId },
  );
  const record = toRecord({ MessageId: 'm1', ReceiptHandle: 'r1', Body: JSON.stringify(outcome) });

  slackStatus = 503;
  expect((await w.notify({ Records: [record] }, {} as Context)).batchItemFailures).toEqual([
    { itemIdentifier: 'm1' },
  ]);
  expect(await w.secrets.get(slackResponseSecretName(PREFIX, correlationId))).toBeDefined();

  slackStatus = 404;
  expect((await w.notify({ Records: [record] }, {} as Context)).batchItemFailures).toEqual([]);
  expect(await w.secrets.get(slackResponseSecretName(PREFIX, correlationId))).toBeUndefined();
  expect(slackPosts).toHaveLength(2);
});
