import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import fc from 'fast-check';
import type { PipelineEvent } from '#commons/events/index';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { clusterSecretName, peeringRecordSecretName } from '#commons/naming';
import type { EventPublisher } from '#commons/ports/event-publisher';
import { slackResponseSecretName } from '#commons/slack/naming';
import { parseResponseRecord } from '#commons/slack/response-url';
import { sign } from '#commons/slack/verify-signature';
import { createSlackCommandHandler, type SlackCommandConfig } from './handler';

const PREFIX = 'consul-peering';
const SIGNING_SECRET = 'unit-test-signing-secret';
const NOW = new Date('2025-06-01T12:00:00Z');
const NOW_SECONDS = String(NOW.getTime() / 1000);
const RESPONSE_URL = 'https://hooks.slack.com/commands/T0001/1234/capability-part';
const REQUEST_ID = 'slack-req-1';
const ALLOWED_USER = 'U0ALLOWED';
const ALLOWED_CHANNEL = 'C0OPS';

const form = (fields: Record<string, string> = {}): string =>
  new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T0001',
    channel_id: ALLOWED_CHANNEL,
    user_id: ALLOWED_USER,
    user_name: 'alice',
    command: '/peering',
    text: 'peer dc1 dc2',
    response_url: RESPONSE_URL,
    trigger_id: '1.2.3',
    ...fields,
  }).toString();

interface RequestOptions {
  method?: string;
  headers?: Record<string, string | undefined>;
  base64?: boolean;
  timestamp?: string;
  secret?: string;
  contentType?: string;
}

function request(body: string, options: RequestOptions = {}): APIGatewayProxyEventV2 {
  const timestamp = options.timestamp ?? NOW_SECONDS;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: {
      'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': timestamp,
      'x-slack-signature': `v0=${sign(options.secret ?? SIGNING_SECRET, timestamp, body)}`,
      ...options.headers,
    },
    requestContext: { http: { method: options.method ?? 'POST', path: '/' } },
    body: options.base64 === true ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 === true,
  } as unknown as APIGatewayProxyEventV2;
}

let dir: string;
let secrets: FileSecretStore;
let published: PipelineEvent[];
let publishFails: boolean;
let signingSecretFails: boolean;

function handlerWith(config: Partial<SlackCommandConfig> = {}) {
  const events: EventPublisher = {
    publish: (event) => {
      if (publishFails) return Promise.reject(new Error('SQS is down'));
      published.push(event);
      return Promise.resolve();
    },
  };
  const handler = createSlackCommandHandler({
    config: {
      secretPrefix: PREFIX,
      allowedUserIds: new Set([ALLOWED_USER]),
      allowedChannelIds: new Set([ALLOWED_CHANNEL]),
      ...config,
    },
    signingSecret: () =>
      signingSecretFails ? Promise.reject(new Error('AccessDenied')) : Promise.resolve(SIGNING_SECRET),
    secrets,
    events,
    clock: { now: () => NOW },
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    newRequestId: () => REQUEST_ID,
  });
  return (event: APIGatewayProxyEventV2) => handler(event, {} as Context);
}

const ephemeralText = (response: APIGatewayProxyStructuredResultV2): string => {
  expect(response.statusCode).toBe(200);
  expect(response.headers?.['content-type']).toBe('application/json');
  const body = JSON.parse(String(response.body)) as { response_type: string; text: string };
  expect(body.response_type).toBe('ephemeral');
  return body.text;
};

const responseSecrets = async () => secrets.list({ namePrefix: `${PREFIX}/slack-responses/` });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slack-command-'));
  secrets = new FileSecretStore({ path: join(dir, 'secrets.json') });
  published = [];
  publishFails = false;
  signingSecretFails = false;
  for (const name of ['dc1', 'dc2', 'dc3']) {
    await secrets.put(clusterSecretName(PREFIX, name), JSON.stringify({ address: 'https://x', token: 't' }));
  }
  await secrets.put(peeringRecordSecretName(PREFIX, 'dc1', 'dc3'), '{}');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('peer', () => {
  test.each([false, true])(
    'a signed request is enqueued and answered at once (base64: %s)',
    async (base64) => {
      const response = await handlerWith()(request(form(), { base64 }));
      expect(ephemeralText(response)).toBe(
        `Peering \`dc1\` → \`dc2\` requested (request ${REQUEST_ID}). I will post the result here.`,
      );
      expect(published).toHaveLength(1);
      const [event] = published;
      expect(event).toMatchObject({
        type: 'peering.requested',
        correlationId: REQUEST_ID,
        data: {
          acceptor: { name: 'dc1', connectionSecret: `${PREFIX}/clusters/dc1` },
          dialer: { name: 'dc2', connectionSecret: `${PREFIX}/clusters/dc2` },
        },
      });
      // The response_url is a capability: it is kept as a secret and never travels on the queue.
      expect(JSON.stringify(event)).not.toContain('hooks.slack.com');
      const stored = await secrets.get(slackResponseSecretName(PREFIX, REQUEST_ID));
      expect(parseResponseRecord(stored?.value ?? '')).toEqual({
        responseUrl: RESPONSE_URL,
        userId: ALLOWED_USER,
        channelId: ALLOWED_CHANNEL,
      });
    },
  );

  test('an unknown cluster is named, and nothing is stored or enqueued', async () => {
    const text = ephemeralText(await handlerWith()(request(form({ text: 'peer dc1 nowhere' }))));
    expect(text).toMatch(/^Unknown cluster: `nowhere`\. .*`\/peering status`/);
    expect(published).toEqual([]);
    expect(await responseSecrets()).toEqual([]);
  });

  test('a dc1 request does not count dc10 as registered (names are matched whole)', async () => {
    await secrets.put(clusterSecretName(PREFIX, 'dc10'), '{}');
    const text = ephemeralText(await handlerWith()(request(form({ text: 'peer dc1 dc1-b' }))));
    expect(text).toMatch(/Unknown cluster: `dc1-b`/);
  });

  test('when publishing fails the requester is told, and the response_url is not left behind', async () => {
    publishFails = true;
    const text = ephemeralText(await handlerWith()(request(form())));
    expect(text).toMatch(/went wrong .*request slack-req-1/);
    expect(await responseSecrets()).toEqual([]);
  });
});

test('status lists registered clusters and requested peerings without touching the queue', async () => {
  const text = ephemeralText(await handlerWith()(request(form({ text: 'status' }))));
  expect(text).toBe(
    '*Registered clusters* (3): `dc1`, `dc2`, `dc3`\n' +
      '*Requested peerings* (1, acceptor → dialer): `dc1` → `dc3`',
  );
  expect(published).toEqual([]);
});

test.each(['help', ''])('help (%j) teaches the commands with examples', async (text) => {
  const reply = ephemeralText(await handlerWith()(request(form({ text }))));
  expect(reply).toContain('`/peering peer dc1 dc2`');
  expect(reply).toContain('`/peering status`');
  expect(published).toEqual([]);
});

test('an unknown command gets help, and nothing is enqueued', async () => {
  const text = ephemeralText(await handlerWith()(request(form({ text: 'delete dc1' }))));
  expect(text).toMatch(/^I do not know `delete`\.\n\*\/peering\* peers Consul clusters/);
  expect(published).toEqual([]);
});

test('a known command used wrongly gets its usage', async () => {
  const text = ephemeralText(await handlerWith()(request(form({ text: 'peer dc1' }))));
  expect(text).toMatch(/exactly two cluster names.*\nUsage: `\/peering peer <acceptor> <dialer>`/s);
  expect(published).toEqual([]);
});

describe('refusals enqueue nothing and store nothing', () => {
  afterEach(async () => {
    expect(published).toEqual([]);
    expect(await responseSecrets()).toEqual([]);
  });

  const expectPlain = (response: APIGatewayProxyStructuredResultV2, status: number, body: string) => {
    expect(response).toMatchObject({ statusCode: status, body });
  };

  test('a forged signature: 401 and nothing else said', async () => {
    expectPlain(await handlerWith()(request(form(), { secret: 'guessed' })), 401, 'Unauthorized');
  });

  test('a body changed after signing: 401', async () => {
    const event = request(form());
    event.body = form({ text: 'peer dc2 dc1' });
    expectPlain(await handlerWith()(event), 401, 'Unauthorized');
  });

  test('a replayed request (stale timestamp): 401', async () => {
    const old = String(Number(NOW_SECONDS) - 6 * 60);
    expectPlain(await handlerWith()(request(form(), { timestamp: old })), 401, 'Unauthorized');
  });

  test.each(['x-slack-signature', 'x-slack-request-timestamp'])('a missing %s: 401', async (name) => {
    expectPlain(
      await handlerWith()(request(form(), { headers: { [name]: undefined } })),
      401,
      'Unauthorized',
    );
  });

  test.each([['application/json'], ['text/plain'], [undefined]])(
    'content type %s: 415',
    async (contentType) => {
      const event = request(form(), { headers: { 'content-type': contentType } });
      expectPlain(await handlerWith()(event), 415, 'Unsupported Media Type');
    },
  );

  test('a content type with parameters and another case is fine', async () => {
    const event = request(form({ text: 'help' }), {
      contentType: 'Application/X-WWW-Form-Urlencoded; charset=utf-8',
    });
    expect((await handlerWith()(event)).statusCode).toBe(200);
  });

  test.each([false, true])('an oversized body: 413 before anything else (base64: %s)', async (base64) => {
    const big = form({ text: 'status', padding: 'x'.repeat(5000) });
    expectPlain(await handlerWith()(request(big, { base64, secret: 'whatever' })), 413, 'Payload Too Large');
  });

  test('a method other than POST: 405', async () => {
    expect((await handlerWith()(request(form(), { method: 'GET' }))).statusCode).toBe(405);
  });

  test('a signed but malformed form: 400', async () => {
    expectPlain(await handlerWith()(request(form({ user_id: 'not-an-id' }))), 400, 'Bad Request');
  });

  test('a response_url outside the allowed base: 400', async () => {
    const event = request(form({ response_url: 'https://evil.example/commands/x' }));
    expectPlain(await handlerWith()(event), 400, 'Bad Request');
  });

  test('the signing secret cannot be read: 500', async () => {
    signingSecretFails = true;
    expectPlain(await handlerWith()(request(form())), 500, 'Internal Server Error');
  });

  test.each([
    ['a user not allowed', { user_id: 'U0STRANGER' }],
    ['a channel not allowed', { channel_id: 'C0RANDOM' }],
  ])('%s gets a polite ephemeral refusal', async (_what, fields) => {
    const text = ephemeralText(await handlerWith()(request(form(fields))));
    expect(text).toMatch(/^Sorry, you cannot run peering commands here/);
  });

  test('empty allowed lists let nobody in (fail closed), help included', async () => {
    const handler = handlerWith({ allowedUserIds: new Set(), allowedChannelIds: new Set() });
    for (const text of ['peer dc1 dc2', 'status', 'help']) {
      expect(ephemeralText(await handler(request(form({ text }))))).toMatch(/^Sorry/);
    }
  });

  test("Slack's ssl_check gets an empty 200", async () => {
    expectPlain(await handlerWith()(request('ssl_check=1&token=x')), 200, '');
  });

  test('fuzz: arbitrary bodies and headers never throw and never enqueue', async () => {
    const handler = handlerWith();
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 600 }),
        fc.dictionary(fc.string(), fc.string()),
        fc.boolean(),
        async (body, headers, base64) => {
          const event = request(body, { base64, secret: 'attacker', headers });
          const response = await handler(event);
          expect([400, 401, 413, 415]).toContain(response.statusCode);
        },
      ),
      { numRuns: 300 },
    );
  });
});
