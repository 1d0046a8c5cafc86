import { App } from 'aws-cdk-lib';
import { ConfigurationError, isScheduleExpression, resolveConfig } from './resolve-config';
import type { PeeringAutomationSettings } from './settings';

const resolve = (context: Record<string, unknown>, props?: PeeringAutomationSettings) =>
  resolveConfig(new App({ context }).node, props);

function problemsOf(context: Record<string, unknown>, props?: PeeringAutomationSettings): string[] {
  try {
    resolve(context, props);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('resolveConfig', () => {
  it('applies the documented defaults when nothing is set', () => {
    expect(resolve({})).toEqual({
      secretPrefix: 'consul-peering',
      driftSchedule: 'rate(1 hour)',
      gatewayTokenRotationDays: 30,
      slack: {
        signingSecretName: 'consul-peering/slack/signing-secret',
        allowedUserIds: [],
        allowedChannelIds: [],
      },
      maxReceiveCount: 20,
      logLevel: 'INFO',
    });
  });

  it('reads every key from context, lists as comma-separated strings or JSON arrays', () => {
    const config = resolve({
      'consulPeering:vpcId': 'vpc-0123456789abcdef0',
      'consulPeering:subnetIds': ' subnet-0123456789abcdef0 , subnet-01234567 ',
      'consulPeering:securityGroupIds': '["sg-0123456789abcdef0"]',
      'consulPeering:secretPrefix': 'platform/consul-peering',
      'consulPeering:kmsKeyArn':
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'consulPeering:driftSchedule': 'cron(0/15 * * * ? *)',
      'consulPeering:gatewayTokenRotationDays': '7',
      'consulPeering:slackAllowedUserIds': ['U024BE7LH', 'W012A3CDE'],
      'consulPeering:slackAllowedChannelIds': 'C024BE91L',
      'consulPeering:maxReceiveCount': '8',
      'consulPeering:alarmTopicArn': 'arn:aws:sns:eu-west-1:123456789012:ops-alarms',
      'consulPeering:logLevel': 'debug',
    });
    expect(config).toEqual({
      network: {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: ['subnet-0123456789abcdef0', 'subnet-01234567'],
        securityGroupIds: ['sg-0123456789abcdef0'],
      },
      secretPrefix: 'platform/consul-peering',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      driftSchedule: 'cron(0/15 * * * ? *)',
      gatewayTokenRotationDays: 7,
      slack: {
        signingSecretName: 'platform/consul-peering/slack/signing-secret',
        allowedUserIds: ['U024BE7LH', 'W012A3CDE'],
        allowedChannelIds: ['C024BE91L'],
      },
      maxReceiveCount: 8,
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops-alarms',
      logLevel: 'DEBUG',
    });
  });

  it('lets stack props win over context', () => {
    const config = resolve({ 'consulPeering:maxReceiveCount': 3 }, { maxReceiveCount: 7, secretPrefix: 'p' });
    expect(config.maxReceiveCount).toBe(7);
    expect(config.secretPrefix).toBe('p');
  });

  it('treats an empty -c value as not set', () => {
    expect(resolve({ 'consulPeering:kmsKeyArn': '' }).kmsKeyArn).toBeUndefined();
  });

  it.each([
    [
      'consulPeering:vpcId',
      'vpc-123',
      /context key "consulPeering:vpcId": expected a VPC id like "vpc-0123456789abcdef0"; got "vpc-123"/,
    ],
    [
      'consulPeering:secretPrefix',
      'consul-peering/*',
      /"consulPeering:secretPrefix": expected a Secrets Manager name prefix .*no "\*"/,
    ],
    ['consulPeering:secretPrefix', 'consul-peering/', /"consulPeering:secretPrefix": expected .*trailing/],
    [
      'consulPeering:kmsKeyArn',
      'arn:aws:kms:eu-west-1:123456789012:alias/queues',
      /"consulPeering:kmsKeyArn": expected a KMS key ARN .*not an alias/,
    ],
    [
      'consulPeering:driftSchedule',
      'rate(1 hours)',
      /"consulPeering:driftSchedule": expected an EventBridge schedule expression/,
    ],
    ['consulPeering:driftSchedule', 'every hour', /"consulPeering:driftSchedule"/],
    [
      'consulPeering:slackSigningSecretName',
      'slack secret',
      /"consulPeering:slackSigningSecretName": expected a Secrets Manager secret name/,
    ],
    [
      'consulPeering:slackAllowedUserIds',
      'U024BE7LH,alice',
      /"consulPeering:slackAllowedUserIds": expected Slack user ids .*; got "alice"/,
    ],
    [
      'consulPeering:slackAllowedChannelIds',
      '#general',
      /"consulPeering:slackAllowedChannelIds": expected Slack channel ids/,
    ],
    [
      'consulPeering:maxReceiveCount',
      0,
      /"consulPeering:maxReceiveCount": expected an integer from 1 to 1000; got 0/,
    ],
    [
      'consulPeering:maxReceiveCount',
      'five',
      /"consulPeering:maxReceiveCount": expected an integer from 1 to 1000; got "five"/,
    ],
    ['consulPeering:alarmTopicArn', 'ops-alarms', /"consulPeering:alarmTopicArn": expected an SNS topic ARN/],
    ['consulPeering:logLevel', 'verbose', /"consulPeering:logLevel": expected one of TRACE, DEBUG, INFO/],
  ])('rejects %s = %j, naming the key and what it expects', (key, value, message) => {
    expect(() => resolve({ [key]: value })).toThrow(message);
  });

  it('accepts a signing secret in <prefix>/slack/ or outside the prefix, and nowhere else under the prefix', () => {
    expect(
      resolve({ 'consulPeering:slackSigningSecretName': 'consul-peering/slack/app-2' }).slack
        .signingSecretName,
    ).toBe('consul-peering/slack/app-2');
    expect(
      resolve({ 'consulPeering:slackSigningSecretName': 'chatops/signing' }).slack.signingSecretName,
    ).toBe('chatops/signing');
    for (const name of [
      'consul-peering/clusters/dc1',
      'consul-peering/gateway-tokens/dc1',
      'consul-peering/slack-responses/x',
      'consul-peering/slack',
    ]) {
      expect(problemsOf({ 'consulPeering:slackSigningSecretName': name })).toEqual([
        expect.stringMatching(
          /slackSigningSecretName": a signing secret under the secret prefix must be in "consul-peering\/slack\/"/,
        ),
      ]);
    }
    // The folder follows the prefix.
    expect(
      problemsOf({
        'consulPeering:secretPrefix': 'p',
        'consulPeering:slackSigningSecretName': 'p/clusters/a',
      }),
    ).toEqual([expect.stringMatching(/must be in "p\/slack\/"/)]);
  });

  it('requires the VPC id, subnets and security groups together', () => {
    expect(problemsOf({ 'consulPeering:vpcId': 'vpc-0123456789abcdef0' })).toEqual([
      expect.stringMatching(
        /consulPeering:vpcId, consulPeering:subnetIds and consulPeering:securityGroupIds go together/,
      ),
    ]);
  });

  it('rejects more security groups than Lambda accepts', () => {
    const groups = Array.from({ length: 6 }, (_, i) => `sg-0000000${i}`);
    expect(
      problemsOf({
        'consulPeering:vpcId': 'vpc-0123456789abcdef0',
        'consulPeering:subnetIds': 'subnet-01234567',
        'consulPeering:securityGroupIds': groups,
      }),
    ).toEqual([
      expect.stringMatching(/"consulPeering:securityGroupIds": a Lambda function accepts at most 5/),
    ]);
  });

  it('rejects an unknown consulPeering: key (a typo would otherwise be ignored)', () => {
    expect(() => resolve({ 'consulPeering:vpcID': 'vpc-0123456789abcdef0' })).toThrow(
      /unknown context key "consulPeering:vpcID"; the known keys are consulPeering:vpcId, /,
    );
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ 'consulPeering:maxReceiveCount': -1, 'consulPeering:logLevel': 'loud' });
    expect(problems).toHaveLength(2);
  });

  it('names the stack prop when the bad value came from props', () => {
    expect(() => resolve({}, { maxReceiveCount: 2000 })).toThrow(
      /stack prop settings.maxReceiveCount: expected an integer/,
    );
  });
});

describe('isScheduleExpression', () => {
  it.each(['rate(1 minute)', 'rate(5 minutes)', 'rate(1 hour)', 'rate(2 days)', 'cron(0 12 * * ? *)'])(
    'accepts %s',
    (expression) => {
      expect(isScheduleExpression(expression)).toBe(true);
    },
  );
  it.each([
    'rate(1 minutes)',
    'rate(5 minute)',
    'rate(0 hours)',
    'rate(1 week)',
    'cron(0 12 * * ?)',
    'hourly',
  ])('rejects %s', (expression) => {
    expect(isScheduleExpression(expression)).toBe(false);
  });
});
