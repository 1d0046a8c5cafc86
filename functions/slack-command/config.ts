import { ValidationError } from '#commons/errors';
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';
import { SLACK_CHANNEL_ID, SLACK_USER_ID } from '#commons/slack/command-parser';
import { requiredEnv } from '#commons/wiring/settings-from-env';

/** The Slack function's settings, from its environment (set by the stack). */
export interface SlackCommandSettings {
  /** The Secrets Manager secret holding the Slack app's signing secret (a plain string). */
  signingSecretName: string;
  secretPrefix: string;
  acceptQueueUrl: string;
  /** Who may run commands, and where. Empty means nobody: the function fails closed. */
  allowedUserIds: ReadonlySet<string>;
  allowedChannelIds: ReadonlySet<string>;
}

export const DEFAULT_SIGNING_SECRET_SUFFIX = 'slack/signing-secret';

export function slackCommandSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): SlackCommandSettings {
  const secretPrefix = nonEmpty(env.SECRET_PREFIX) ?? DEFAULT_SECRET_PREFIX;
  return {
    signingSecretName:
      nonEmpty(env.SLACK_SIGNING_SECRET_NAME) ?? `${secretPrefix}/${DEFAULT_SIGNING_SECRET_SUFFIX}`,
    secretPrefix,
    acceptQueueUrl: requiredEnv('ACCEPT_QUEUE_URL', env),
    allowedUserIds: idList(env, 'SLACK_ALLOWED_USERS', SLACK_USER_ID, 'Slack user ids (U… or W…)'),
    allowedChannelIds: idList(
      env,
      'SLACK_ALLOWED_CHANNELS',
      SLACK_CHANNEL_ID,
      'Slack channel ids (C…, G… or D…)',
    ),
  };
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/**
 * A comma list of ids. A malformed entry fails the cold start loudly instead of silently never
 * matching (a user name or a channel name where an id belongs is the usual mistake).
 */
function idList(env: NodeJS.ProcessEnv, name: string, pattern: RegExp, what: string): ReadonlySet<string> {
  const entries = (env[name] ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const bad = entries.find((entry) => !pattern.test(entry));
  if (bad !== undefined) {
    throw new ValidationError(
      `${name} must be a comma-separated list of ${what}; "${bad.slice(0, 40)}" is not one`,
      name,
    );
  }
  return new Set(entries);
}
