import { DEFAULT_ROTATION_AFTER_DAYS } from '#commons/wiring/settings-from-env';
import type { Node } from 'constructs';
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';
import { FUNCTION_DEFAULTS, QUEUE_DEFAULTS } from '../constructs/defaults';
import {
  CONTEXT_PREFIX,
  DEFAULT_DRIFT_SCHEDULE,
  DEFAULT_SLACK_SIGNING_SECRET_SUFFIX,
  LOG_LEVELS,
  SLACK_SECRETS_FOLDER,
  type AutomationConfig,
  type LogLevel,
  type PeeringAutomationSettings,
  type SettingName,
} from './settings';

/** Every problem found, so one synth lists them all. */
export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration of the consul-peering-automation stack (see docs/deploy.md, "Context"):\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
    this.name = 'ConfigurationError';
  }
}

const SETTING_NAMES: readonly SettingName[] = [
  'vpcId',
  'subnetIds',
  'securityGroupIds',
  'secretPrefix',
  'kmsKeyArn',
  'driftSchedule',
  'gatewayTokenRotationDays',
  'slackSigningSecretName',
  'slackAllowedUserIds',
  'slackAllowedChannelIds',
  'maxReceiveCount',
  'alarmTopicArn',
  'logLevel',
];

const RESOURCE_ID = (kind: string) => new RegExp(`^${kind}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`);
// Secrets Manager name characters; no leading or trailing slash, no empty segment.
const SECRET_NAME = /^[A-Za-z0-9_+=.@-]+(?:\/[A-Za-z0-9_+=.@-]+)*$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/(?:mrk-)?[0-9a-fA-F-]{32,36}$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;
const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/**
 * The stack's configuration from its props and the CDK context (`consulPeering:<name>`), validated.
 * Throws a ConfigurationError naming each offending context key (or stack prop) and what it expects.
 */
export function resolveConfig(node: Node, props: PeeringAutomationSettings = {}): AutomationConfig {
  const problems: string[] = [];
  const read = readSettings(node, props, problems);

  const vpcId = read.string('vpcId', RESOURCE_ID('vpc'), 'a VPC id like "vpc-0123456789abcdef0"');
  const subnetIds = read.list(
    'subnetIds',
    RESOURCE_ID('subnet'),
    'subnet ids like "subnet-0123456789abcdef0"',
  );
  const securityGroupIds = read.list(
    'securityGroupIds',
    RESOURCE_ID('sg'),
    'security group ids like "sg-0123456789abcdef0"',
  );
  const networkGiven = [vpcId, subnetIds, securityGroupIds].filter((value) => value !== undefined).length;
  if (networkGiven > 0 && networkGiven < 3) {
    problems.push(
      `${CONTEXT_PREFIX}vpcId, ${CONTEXT_PREFIX}subnetIds and ${CONTEXT_PREFIX}securityGroupIds go together: ` +
        'give all three to run the functions in your VPC, or none to run them outside any VPC',
    );
  }
  if (securityGroupIds !== undefined && securityGroupIds.length > 5) {
    problems.push(`${read.where('securityGroupIds')}: a Lambda function accepts at most 5 security groups`);
  }
  if (subnetIds !== undefined && subnetIds.length > 16) {
    problems.push(`${read.where('subnetIds')}: a Lambda function accepts at most 16 subnets`);
  }

  const secretPrefix =
    read.string(
      'secretPrefix',
      SECRET_NAME,
      'a Secrets Manager name prefix (letters, digits, _+=.@- and "/" between segments, no "*", no leading or trailing "/"), e.g. "consul-peering"',
    ) ?? DEFAULT_SECRET_PREFIX;
  if (secretPrefix.length > 400) problems.push(`${read.where('secretPrefix')}: at most 400 characters`);

  const kmsKeyArn = read.string(
    'kmsKeyArn',
    KMS_KEY_ARN,
    'a KMS key ARN "arn:aws:kms:<region>:<account>:key/<key-id>" (not an alias: IAM grants are scoped to the key ARN)',
  );
  const driftSchedule = read.schedule('driftSchedule') ?? DEFAULT_DRIFT_SCHEDULE;
  const gatewayTokenRotationDays =
    read.integer('gatewayTokenRotationDays', 1, 1000) ?? DEFAULT_ROTATION_AFTER_DAYS;
  const signingSecretName =
    read.string(
      'slackSigningSecretName',
      SECRET_NAME,
      'a Secrets Manager secret name, e.g. "consul-peering/slack/signing-secret"',
    ) ?? `${secretPrefix}/${DEFAULT_SLACK_SIGNING_SECRET_SUFFIX}`;
  // slack-command is public-facing and may read this one secret: under the prefix, only the slack/
  // folder is allowed, since the rest of it holds Consul tokens (connection secrets, gateway and
  // peering tokens) the function must never be able to read.
  const slackFolder = `${secretPrefix}/${SLACK_SECRETS_FOLDER}/`;
  if (signingSecretName.startsWith(`${secretPrefix}/`) && !signingSecretName.startsWith(slackFolder)) {
    problems.push(
      `${read.where('slackSigningSecretName')}: a signing secret under the secret prefix must be in ` +
        `"${slackFolder}" (the rest of "${secretPrefix}/" holds Consul tokens, which the public-facing ` +
        `Slack function must not be able to read); got ${JSON.stringify(signingSecretName)}`,
    );
  }
  const allowedUserIds =
    read.list('slackAllowedUserIds', SLACK_USER_ID, 'Slack user ids like "U024BE7LH" (U… or W…)') ?? [];
  const allowedChannelIds =
    read.list(
      'slackAllowedChannelIds',
      SLACK_CHANNEL_ID,
      'Slack channel ids like "C024BE91L" (C…, G… or D…)',
    ) ?? [];
  const maxReceiveCount = read.integer('maxReceiveCount', 1, 1000) ?? QUEUE_DEFAULTS.maxReceiveCount;
  const alarmTopicArn = read.string(
    'alarmTopicArn',
    SNS_TOPIC_ARN,
    'an SNS topic ARN "arn:aws:sns:<region>:<account>:<name>"',
  );
  const logLevel = read.logLevel('logLevel') ?? FUNCTION_DEFAULTS.logLevel;

  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    ...(vpcId !== undefined &&
      subnetIds !== undefined &&
      securityGroupIds !== undefined && { network: { vpcId, subnetIds, securityGroupIds } }),
    secretPrefix,
    ...(kmsKeyArn !== undefined && { kmsKeyArn }),
    driftSchedule,
    gatewayTokenRotationDays,
    slack: { signingSecretName, allowedUserIds, allowedChannelIds },
    maxReceiveCount,
    ...(alarmTopicArn !== undefined && { alarmTopicArn }),
    logLevel,
  };
}

/** Readers that record a problem (naming where the value came from) and return undefined on bad input. */
function readSettings(node: Node, props: PeeringAutomationSettings, problems: string[]) {
  const known = new Set<string>(SETTING_NAMES);
  for (const key of Object.keys(node.getAllContext() as Record<string, unknown>)) {
    if (key.startsWith(CONTEXT_PREFIX) && !known.has(key.slice(CONTEXT_PREFIX.length))) {
      problems.push(
        `unknown context key "${key}"; the known keys are ${SETTING_NAMES.map((name) => CONTEXT_PREFIX + name).join(', ')}`,
      );
    }
  }

  const raw = (name: SettingName): unknown => {
    const value: unknown = props[name] ?? node.tryGetContext(CONTEXT_PREFIX + name);
    // `-c key=` gives an empty string: treat it as not set.
    return value === '' || value === null ? undefined : value;
  };
  const where = (name: SettingName): string =>
    props[name] !== undefined ? `stack prop settings.${name}` : `context key "${CONTEXT_PREFIX}${name}"`;
  const fail = (name: SettingName, expected: string, value: unknown): void => {
    problems.push(`${where(name)}: expected ${expected}; got ${JSON.stringify(value)}`);
  };

  return {
    where,
    string(name: SettingName, pattern: RegExp, expected: string): string | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      if (typeof value === 'string' && pattern.test(value.trim())) return value.trim();
      fail(name, expected, value);
      return undefined;
    },

    list(name: SettingName, pattern: RegExp, expected: string): string[] | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const items = toList(value);
      const format = `${expected}, as a JSON array or a comma-separated string`;
      const bad = items?.filter((item) => !pattern.test(item)) ?? [];
      if (items !== undefined && bad.length === 0) return [...new Set(items)];
      fail(name, format, items === undefined ? value : bad.length === 1 ? bad[0] : bad);
      return undefined;
    },

    integer(name: SettingName, min: number, max: number): number | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max)
        return number;
      fail(name, `an integer from ${min} to ${max}`, value);
      return undefined;
    },

    schedule(name: SettingName): string | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      if (typeof value === 'string' && isScheduleExpression(value.trim())) return value.trim();
      fail(
        name,
        'an EventBridge schedule expression: "rate(<n> minute|minutes|hour|hours|day|days)" (singular for 1) or "cron(<6 fields>)"',
        value,
      );
      return undefined;
    },

    logLevel(name: SettingName): LogLevel | undefined {
      const value = raw(name);
      if (value === undefined) return undefined;
      const level = typeof value === 'string' ? value.trim().toUpperCase() : undefined;
      const match = LOG_LEVELS.find((candidate) => candidate === level);
      if (match === undefined) fail(name, `one of ${LOG_LEVELS.join(', ')}`, value);
      return match;
    },
  };
}

function toList(value: unknown): string[] | undefined {
  let candidate = value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        candidate = JSON.parse(text) as unknown;
      } catch {
        return undefined;
      }
    } else {
      candidate = text.split(',');
    }
  }
  if (!Array.isArray(candidate) || !candidate.every((item) => typeof item === 'string')) return undefined;
  return candidate.map((item) => item.trim()).filter((item) => item !== '');
}

/** EventBridge rules: `rate(1 hour)`, `rate(5 minutes)` (AWS rejects "1 hours" and "5 hour"), `cron(...)` with 6 fields. */
export function isScheduleExpression(expression: string): boolean {
  const rate = /^rate\((\d+) (minute|hour|day)(s?)\)$/.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    return amount > 0 && (amount === 1) === (rate[3] === '');
  }
  return /^cron\(\S+( \S+){5}\)$/.test(expression);
}
