import { slackCommandSettingsFromEnv } from './config';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/accept';

test('reads the comma lists, trims them, and defaults the signing secret name under the prefix', () => {
  const settings = slackCommandSettingsFromEnv({
    ACCEPT_QUEUE_URL: QUEUE,
    SECRET_PREFIX: 'platform/peering',
    SLACK_ALLOWED_USERS: ' U024BE7LH, W012A3CDE ,',
    SLACK_ALLOWED_CHANNELS: 'C024BE91L',
  });
  expect(settings).toEqual({
    signingSecretName: 'platform/peering/slack/signing-secret',
    secretPrefix: 'platform/peering',
    acceptQueueUrl: QUEUE,
    allowedUserIds: new Set(['U024BE7LH', 'W012A3CDE']),
    allowedChannelIds: new Set(['C024BE91L']),
  });
});

test('unset lists mean nobody (fail closed)', () => {
  const settings = slackCommandSettingsFromEnv({ ACCEPT_QUEUE_URL: QUEUE, SLACK_SIGNING_SECRET_NAME: 'x/y' });
  expect(settings.allowedUserIds.size).toBe(0);
  expect(settings.allowedChannelIds.size).toBe(0);
  expect(settings.signingSecretName).toBe('x/y');
  expect(settings.secretPrefix).toBe('consul-peering');
});

test('a name where an id belongs fails the cold start loudly', () => {
  expect(() =>
    slackCommandSettingsFromEnv({ ACCEPT_QUEUE_URL: QUEUE, SLACK_ALLOWED_USERS: 'U024BE7LH,alice' }),
  ).toThrow(/SLACK_ALLOWED_USERS must be a comma-separated list of Slack user ids .*"alice"/);
  expect(() =>
    slackCommandSettingsFromEnv({ ACCEPT_QUEUE_URL: QUEUE, SLACK_ALLOWED_CHANNELS: '#ops' }),
  ).toThrow(/SLACK_ALLOWED_CHANNELS/);
  expect(() => slackCommandSettingsFromEnv({})).toThrow(/ACCEPT_QUEUE_URL is not set/);
});
