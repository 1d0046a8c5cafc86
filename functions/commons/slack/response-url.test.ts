import { slackResponseSecretName } from './naming';
import { isAllowedResponseUrl, originOf, parseResponseRecord, serialiseResponseRecord } from './response-url';

describe('isAllowedResponseUrl', () => {
  test.each([
    'https://hooks.slack.com/commands/T0001/1234/abcd',
    'https://hooks.slack.com/actions/T0001/1234/abcd',
    'https://HOOKS.slack.com/commands/x',
    'https://hooks.slack.com:443/commands/x',
  ])('allows %s', (url) => {
    expect(isAllowedResponseUrl(url)).toBe(true);
  });

  test.each([
    'http://hooks.slack.com/commands/x',
    'https://hooks.slack.com.evil.example/commands/x',
    'https://hooks.slack.com@evil.example/commands/x',
    'https://user:pass@hooks.slack.com/commands/x',
    'https://evil.example/https://hooks.slack.com/',
    'https://hooks.slack.com:8443/commands/x',
    'https://slack.com/api/chat.postMessage',
    '//hooks.slack.com/commands/x',
    'hooks.slack.com/commands/x',
    'not a url',
    '',
    `https://hooks.slack.com/${'a'.repeat(2048)}`,
  ])('refuses %s', (url) => {
    expect(isAllowedResponseUrl(url)).toBe(false);
  });

  test('a base with a path allows only what lies under it', () => {
    const base = 'http://127.0.0.1:8080/slack';
    expect(isAllowedResponseUrl('http://127.0.0.1:8080/slack/commands/1', base)).toBe(true);
    expect(isAllowedResponseUrl('http://127.0.0.1:8080/slackers/1', base)).toBe(false);
    expect(isAllowedResponseUrl('http://127.0.0.1:8081/slack/commands/1', base)).toBe(false);
  });

  test('only the origin of a url is ever shown', () => {
    expect(originOf('https://hooks.slack.com/commands/T0001/1234/secret-part')).toBe(
      'https://hooks.slack.com',
    );
    expect(originOf('nope')).toBe('(not a URL)');
  });
});

test('the stored response record round-trips, and anything else is unusable', () => {
  const record = {
    responseUrl: 'https://hooks.slack.com/commands/T0001/1234/abcd',
    userId: 'U0001',
    channelId: 'C0001',
  };
  expect(parseResponseRecord(serialiseResponseRecord(record))).toEqual(record);
  expect(parseResponseRecord('https://hooks.slack.com/commands/x')).toBeUndefined();
  expect(parseResponseRecord(JSON.stringify({ ...record, userId: '<!channel>' }))).toBeUndefined();
  expect(parseResponseRecord(JSON.stringify({ ...record, extra: 1 }))).toBeUndefined();
});

test('Slack response secrets live under the prefix', () => {
  expect(slackResponseSecretName('consul-peering', 'slack-abc')).toBe(
    'consul-peering/slack-responses/slack-abc',
  );
});
