import { inspect } from 'node:util';
import { MockAgent, type Interceptable } from 'undici';
import { PermanentError } from '../errors';
import { SlackResponsePoster, SlackUnavailableError } from './response-poster';

const SLACK = 'https://hooks.slack.com';
const PATH = '/commands/T0001/1234/capability-part';
const URL_ = `${SLACK}${PATH}`;
const MESSAGE = { response_type: 'in_channel', text: 'done' } as const;

let agent: MockAgent;
let slack: Interceptable;
let poster: SlackResponsePoster;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  slack = agent.get(SLACK);
  poster = new SlackResponsePoster({ dispatcher: agent, timeoutMs: 200 });
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
});

const expectNoCapability = (error: unknown): void => {
  for (const text of [String(error), inspect(error, { depth: 5 }), JSON.stringify(error)]) {
    expect(text).not.toContain('capability-part');
  }
};

test('posts the message as JSON and reports delivery', async () => {
  let sent: unknown;
  slack
    .intercept({ path: PATH, method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' } })
    .reply(200, (options) => {
      sent = JSON.parse(typeof options.body === 'string' ? options.body : '');
      return 'ok';
    });
  await expect(poster.post(URL_, MESSAGE)).resolves.toEqual({ delivered: true, status: 200 });
  expect(sent).toEqual(MESSAGE);
});

test('an expired response_url (404 expired_url) is a refusal to drop, not an error', async () => {
  slack.intercept({ path: PATH, method: 'POST' }).reply(404, 'expired_url');
  await expect(poster.post(URL_, MESSAGE)).resolves.toEqual({
    delivered: false,
    status: 404,
    detail: 'expired_url',
  });
});

test.each([500, 503, 429])('HTTP %i is retryable, and the error shows only the origin', async (status) => {
  slack.intercept({ path: PATH, method: 'POST' }).reply(status, 'busy');
  const error = await poster.post(URL_, MESSAGE).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SlackUnavailableError);
  expect((error as SlackUnavailableError).retryable).toBe(true);
  expect(String(error)).toContain(`${SLACK} answered HTTP ${status}`);
  expectNoCapability(error);
});

test('a network error is retryable', async () => {
  slack.intercept({ path: PATH, method: 'POST' }).replyWithError(new Error(`socket hang up ${URL_}`));
  const error = await poster.post(URL_, MESSAGE).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SlackUnavailableError);
  expectNoCapability(error);
});

test('no answer within the timeout is retryable', async () => {
  slack.intercept({ path: PATH, method: 'POST' }).reply(200, 'ok').delay(1_000);
  const error = await poster.post(URL_, MESSAGE).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SlackUnavailableError);
});

test.each([
  'https://hooks.slack.com.evil.example/commands/x',
  'http://hooks.slack.com/commands/x',
  'https://evil.example/commands/x',
])('only hooks.slack.com is posted to: %s is refused without a request', async (url) => {
  const error = await poster.post(url, MESSAGE).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PermanentError);
  expect((error as PermanentError).reason).toBe('slack.response-url-not-allowed');
  expect((error as PermanentError).retryable).toBe(false);
});

test('the allowed base is injectable (tests post to a local server)', async () => {
  const local = new SlackResponsePoster({ dispatcher: agent, allowedBase: 'http://127.0.0.1:9999/' });
  agent.get('http://127.0.0.1:9999').intercept({ path: '/hook', method: 'POST' }).reply(200, 'ok');
  await expect(local.post('http://127.0.0.1:9999/hook', MESSAGE)).resolves.toMatchObject({ delivered: true });
  await expect(local.post(URL_, MESSAGE)).rejects.toThrow(/must be under http:\/\/127\.0\.0\.1:9999\//);
});
