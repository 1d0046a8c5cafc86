import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { MockAgent, type Interceptable } from 'undici';
import { createEvent, type PipelineEvent } from '#commons/events/index';
import { FileSecretStore } from '#commons/local/file-secret-store';
import type { OutgoingMessage, Queue } from '#commons/ports/queue';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { slackResponseSecretName } from '#commons/slack/naming';
import { SlackResponsePoster } from '#commons/slack/response-poster';
import { serialiseResponseRecord } from '#commons/slack/response-url';
import type { WorkflowLog } from '#commons/workflows/context';
import { createNotifyOutcomeHandler } from './handler';

const PREFIX = 'consul-peering';
const SLACK = 'https://hooks.slack.com';
const HOOK = '/commands/T0001/1234/capability-part';
const ref = (name: string) => ({ name, connectionSecret: `${PREFIX}/clusters/${name}` });
const PEERING_ID = 'a1b2c3d4-0000-0000-0000-000000000001';

const established = (correlationId: string) =>
  createEvent(
    'peering.established',
    {
      acceptor: ref('dc1'),
      dialer: ref('dc2'),
      peeringId: PEERING_ID,
      acceptorState: 'ACTIVE',
      dialerState: 'ACTIVE',
    },
    { correlationId },
  );
const failed = (correlationId: string) =>
  createEvent(
    'peering.failed',
    {
      acceptor: ref('dc1'),
      dialer: ref('dc2'),
      reason: 'dialer-gateway-missing',
      message: 'Register a mesh gateway on dc2.',
    },
    { correlationId },
  );
const record = (id: string, body: string): SQSRecord =>
  ({
    messageId: id,
    receiptHandle: id,
    body,
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
  }) as unknown as SQSRecord;
const recordOf = (event: PipelineEvent) => record(event.correlationId, JSON.stringify(event));

let dir: string;
let agent: MockAgent;
let slack: Interceptable;
let secrets: FileSecretStore;
let deadLettered: OutgoingMessage[];
let logged: { level: string; message: string; attributes: Record<string, unknown> }[];
let invoke: (records: SQSRecord[]) => Promise<SQSBatchResponse>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'notify-outcome-'));
  secrets = new FileSecretStore({ path: join(dir, 'secrets.json') });
  agent = new MockAgent();
  agent.disableNetConnect();
  slack = agent.get(SLACK);
  deadLettered = [];
  logged = [];
  const deadLetters: Queue = {
    send: (message) => {
      deadLettered.push(message);
      return Promise.resolve({ messageId: 'dlq' });
    },
  };
  const log: WorkflowLog = {
    info: (message, attributes = {}) => logged.push({ level: 'info', message, attributes }),
    warn: (message, attributes = {}) => logged.push({ level: 'warn', message, attributes }),
  };
  const handler = createNotifyOutcomeHandler({
    context: {
      secrets,
      secretPrefix: PREFIX,
      slack: new SlackResponsePoster({ dispatcher: agent, timeoutMs: 500 }),
      log,
    },
    deadLetters,
    source: { retryAfter: () => Promise.resolve() },
    retry: DEFAULT_SETTINGS,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  invoke = (records) => handler({ Records: records }, {} as Context);
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

const storeResponse = (correlationId: string, responseUrl = `${SLACK}${HOOK}`) =>
  secrets.put(
    slackResponseSecretName(PREFIX, correlationId),
    serialiseResponseRecord({ responseUrl, userId: 'U0001', channelId: 'C0001' }),
  );
const stored = (correlationId: string) => secrets.get(slackResponseSecretName(PREFIX, correlationId));

test('established: posts in the channel, mentions the requester, forgets the response_url', async () => {
  await storeResponse('slack-ok');
  const posted: unknown[] = [];
  slack.intercept({ path: HOOK, method: 'POST' }).reply(200, (options) => {
    posted.push(JSON.parse(typeof options.body === 'string' ? options.body : ''));
    return 'ok';
  });
  const response = await invoke([recordOf(established('slack-ok'))]);
  expect(response.batchItemFailures).toEqual([]);
  expect(posted).toEqual([
    {
      response_type: 'in_channel',
      text: expect.stringMatching(
        /^<@U0001> :white_check_mark: Peering `dc1` → `dc2` is established/,
      ) as string,
    },
  ]);
  expect(await stored('slack-ok')).toBeUndefined();
  expect(logged.map((l) => l.message)).toEqual(['peering established', 'posted the outcome to Slack']);
});

test('failed: the reason and what to do are posted to the requester only (ephemeral)', async () => {
  await storeResponse('slack-failed');
  let posted = { text: '', response_type: '' };
  slack.intercept({ path: HOOK, method: 'POST' }).reply(200, (options) => {
    posted = JSON.parse(typeof options.body === 'string' ? options.body : '') as typeof posted;
    return 'ok';
  });
  await invoke([recordOf(failed('slack-failed'))]);
  expect(posted.response_type).toBe('ephemeral');
  expect(posted.text).toContain('failed (`dialer-gateway-missing`, request slack-failed)');
  expect(posted.text).toContain('Register a mesh gateway on dc2.');
  expect(logged[0]).toMatchObject({ level: 'warn', message: 'peering failed' });
});

test('an expired response_url (404) is logged and dropped: no retry, no DLQ, secret deleted', async () => {
  await storeResponse('slack-expired');
  slack.intercept({ path: HOOK, method: 'POST' }).reply(404, 'expired_url');
  const response = await invoke([recordOf(established('slack-expired'))]);
  expect(response.batchItemFailures).toEqual([]);
  expect(deadLettered).toEqual([]);
  expect(await stored('slack-expired')).toBeUndefined();
  expect(logged.at(-1)).toMatchObject({ level: 'warn', attributes: { status: 404, detail: 'expired_url' } });
});

test('a Slack 5xx is retried via batch item failure and the response_url is kept for the retry', async () => {
  await storeResponse('slack-busy');
  await storeResponse('slack-fine');
  slack.intercept({ path: HOOK, method: 'POST' }).reply(500, 'oops');
  slack.intercept({ path: HOOK, method: 'POST' }).reply(200, 'ok');
  const response = await invoke([
    record('m-busy', JSON.stringify(established('slack-busy'))),
    record('m-fine', JSON.stringify(established('slack-fine'))),
  ]);
  expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-busy' }]);
  expect(await stored('slack-busy')).toBeDefined();
  expect(await stored('slack-fine')).toBeUndefined();

  slack.intercept({ path: HOOK, method: 'POST' }).reply(200, 'ok');
  expect(
    (await invoke([record('m-busy', JSON.stringify(established('slack-busy')))])).batchItemFailures,
  ).toEqual([]);
  expect(await stored('slack-busy')).toBeUndefined();
});

test('only hooks.slack.com is posted to: a stored url elsewhere is dropped without a request', async () => {
  await storeResponse('slack-evil', 'https://evil.example/commands/x');
  const response = await invoke([recordOf(established('slack-evil'))]);
  expect(response.batchItemFailures).toEqual([]);
  expect(await stored('slack-evil')).toBeUndefined();
  expect(JSON.stringify(logged)).not.toContain('/commands/x');
});

test('an outcome not asked from Slack is only logged', async () => {
  const response = await invoke([recordOf(established('cli-request'))]);
  expect(response.batchItemFailures).toEqual([]);
  expect(logged.map((l) => l.message)).toEqual(['peering established']);
});

test('an unusable stored record is dropped', async () => {
  await secrets.put(slackResponseSecretName(PREFIX, 'slack-junk'), 'not json');
  await invoke([recordOf(established('slack-junk'))]);
  expect(await stored('slack-junk')).toBeUndefined();
});

test('an event of another type, or junk, goes to the dead-letter queue', async () => {
  const requested = createEvent(
    'peering.requested',
    { acceptor: ref('dc1'), dialer: ref('dc2') },
    { correlationId: 'x' },
  );
  const response = await invoke([record('wrong', JSON.stringify(requested)), record('junk', '{')]);
  expect(response.batchItemFailures).toEqual([]);
  expect(deadLettered.map((m) => m.attributes?.reason)).toEqual(['validation', 'validation']);
  expect(deadLettered[0]?.attributes?.error).toMatch(/expected peering.established or peering.failed/);
});
