/**
 * The stack's configuration: typed stack props, each of which can also be given as CDK context
 * `consulPeering:<name>` (in cdk.json or `-c consulPeering:<name>=<value>`). Stack props win over
 * context, context over defaults. Everything is validated at synth (resolve-config.ts).
 */
export const CONTEXT_PREFIX = 'consulPeering:';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** What a deployer may set. Lists may be given in context as JSON arrays or comma-separated strings. */
export interface PeeringAutomationSettings {
  /** The VPC the functions run in to reach Consul. Given together with subnetIds and securityGroupIds. */
  vpcId?: string;
  /** Private subnets (with a route to SQS, Secrets Manager, KMS and X-Ray: NAT or VPC endpoints). */
  subnetIds?: string[];
  /** Security groups that allow HTTPS to the Consul servers; used as they are (no rules are added). */
  securityGroupIds?: string[];
  /** Prefix of every secret the pipeline reads and writes; IAM is scoped to `<prefix>/*`. */
  secretPrefix?: string;
  /** An existing KMS key (key ARN, not an alias) for the queues; by default the stack creates one. */
  kmsKeyArn?: string;
  /** When the drift scan runs: an EventBridge `rate(...)` or `cron(...)`. */
  driftSchedule?: string;
  /** Days between rotations of each gateway ACL token (Secrets Manager's AutomaticallyAfterDays, 1-1000). */
  gatewayTokenRotationDays?: number;
  /**
   * Secret holding the Slack app's signing secret, the only secret value the Slack function can read.
   * Under the secret prefix it must be in `<prefix>/slack/`.
   */
  slackSigningSecretName?: string;
  /** Slack user ids (U…/W…) allowed to run commands. */
  slackAllowedUserIds?: string[];
  /** Slack channel ids (C…/G…/D…) commands are accepted from. */
  slackAllowedChannelIds?: string[];
  /** Deliveries of a work message before SQS moves it to the dead-letter queue. */
  maxReceiveCount?: number;
  /** An SNS topic for alarm (and OK) notifications. */
  alarmTopicArn?: string;
  /** The functions' LOG_LEVEL (Powertools Logger). */
  logLevel?: string;
}

export type SettingName = keyof PeeringAutomationSettings;

/** Validated configuration, defaults applied. */
export interface AutomationConfig {
  network?: { vpcId: string; subnetIds: string[]; securityGroupIds: string[] };
  secretPrefix: string;
  kmsKeyArn?: string;
  driftSchedule: string;
  gatewayTokenRotationDays: number;
  slack: { signingSecretName: string; allowedUserIds: string[]; allowedChannelIds: string[] };
  maxReceiveCount: number;
  alarmTopicArn?: string;
  logLevel: LogLevel;
}

export const DEFAULT_DRIFT_SCHEDULE = 'rate(1 hour)';
export const SLACK_SECRETS_FOLDER = 'slack';
export const DEFAULT_SLACK_SIGNING_SECRET_SUFFIX = `${SLACK_SECRETS_FOLDER}/signing-secret`;
