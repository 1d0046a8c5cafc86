/** Flags shared by several commands, and what they resolve to. */
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';
import type { OptionTable, ParsedArgs } from './args';
import { UsageError } from './errors';
import { queueUrl, secretPrefix, wholeNumber } from './fields';

export const DEFAULT_TIMEOUT_SECONDS = 300;
export const DEFAULT_CONCURRENCY = 8;

export const HELP: OptionTable = { help: { type: 'boolean', short: 'h' } };
export const BACKEND: OptionTable = {
  aws: { type: 'boolean' },
  'secrets-file': { type: 'string' },
  'secret-prefix': { type: 'string' },
};
export const WAIT: OptionTable = {
  wait: { type: 'boolean', short: 'w' },
  timeout: { type: 'string', short: 't' },
  verbose: { type: 'boolean', short: 'v' },
};
export const JSON_OUTPUT: OptionTable = { json: { type: 'boolean' } };
export const CONCURRENCY: OptionTable = { concurrency: { type: 'string' } };
export const ONBOARD_QUEUE: OptionTable = { 'onboard-queue-url': { type: 'string' } };
export const ACCEPT_QUEUE: OptionTable = { 'accept-queue-url': { type: 'string' } };

export interface BackendChoice {
  aws: boolean;
  /** Local backend only; undefined means the default path. */
  secretsFile: string | undefined;
  secretPrefix: string;
  onboardQueueUrl: string | undefined;
  acceptQueueUrl: string | undefined;
  verbose: boolean;
}

/**
 * The backend a command runs on. Queue URLs come from flags or ONBOARD_QUEUE_URL / ACCEPT_QUEUE_URL
 * (the names the Lambda functions use), and are required with `--aws` by the commands that publish.
 */
export function backendChoice(
  args: ParsedArgs,
  env: NodeJS.ProcessEnv,
  publishes: { onboard?: boolean; accept?: boolean } = {},
): BackendChoice {
  const aws = args.flag('aws');
  const secretsFile = args.string('secrets-file');
  if (aws && secretsFile !== undefined) {
    throw new UsageError(
      '--secrets-file: only for the local backend; with --aws secrets are in Secrets Manager',
      args.command,
    );
  }
  const queue = (flag: string, variable: string, needed: boolean | undefined): string | undefined => {
    const given = args.has(flag) ? args.string(flag) : undefined;
    if (given !== undefined && !aws)
      throw new UsageError(`--${flag}: only with --aws (the local backend has its own queues)`, args.command);
    if (!aws || needed !== true) return undefined;
    const value = given ?? env[variable];
    if (value === undefined || value === '') {
      throw new UsageError(
        `--${flag}: required with --aws for "${args.command}" (or set ${variable})`,
        args.command,
      );
    }
    return queueUrl(value, given === undefined ? variable : `--${flag}`);
  };
  const prefixFlag = args.string('secret-prefix');
  return {
    aws,
    secretsFile,
    secretPrefix:
      prefixFlag !== undefined
        ? secretPrefix(prefixFlag)
        : secretPrefix(env.SECRET_PREFIX ?? DEFAULT_SECRET_PREFIX, 'SECRET_PREFIX'),
    onboardQueueUrl: queue('onboard-queue-url', 'ONBOARD_QUEUE_URL', publishes.onboard),
    acceptQueueUrl: queue('accept-queue-url', 'ACCEPT_QUEUE_URL', publishes.accept),
    verbose: args.flag('verbose'),
  };
}

export interface WaitChoice {
  /** Wait for the outcome. Always true on the local backend: its queues live in this process. */
  wait: boolean;
  timeoutMs: number;
}

export function waitChoice(args: ParsedArgs, backend: BackendChoice): WaitChoice {
  const timeout = args.string('timeout');
  const seconds =
    timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : wholeNumber(timeout, '--timeout', 1, 86_400, 'seconds');
  if (timeout !== undefined && backend.aws && !args.flag('wait')) {
    throw new UsageError(
      '--timeout: only with --wait (with --aws, peerctl returns once published)',
      args.command,
    );
  }
  return { wait: !backend.aws || args.flag('wait'), timeoutMs: seconds * 1000 };
}

export function concurrencyChoice(args: ParsedArgs): number {
  const value = args.string('concurrency');
  return value === undefined ? DEFAULT_CONCURRENCY : wholeNumber(value, '--concurrency', 1, 64);
}
