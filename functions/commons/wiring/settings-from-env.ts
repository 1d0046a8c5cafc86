import { ValidationError } from '../errors';
import { DEFAULT_SECRET_PREFIX } from '../naming';
import { DEFAULT_SETTINGS, type PipelineSettings } from '../workflows/context';

/** Pipeline settings from the function's environment (set by the CDK stack), with documented defaults. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineSettings {
  return {
    secretPrefix: env.SECRET_PREFIX ?? DEFAULT_SECRET_PREFIX,
    gatewayCheckInterval: env.GATEWAY_CHECK_INTERVAL ?? DEFAULT_SETTINGS.gatewayCheckInterval,
    activationPollMs: int(env, 'ACTIVATION_POLL_MS', DEFAULT_SETTINGS.activationPollMs),
    pollIntervalMs: int(env, 'POLL_INTERVAL_MS', DEFAULT_SETTINGS.pollIntervalMs),
    maxAttempts: int(env, 'MAX_ATTEMPTS', DEFAULT_SETTINGS.maxAttempts),
    retryBaseSeconds: int(env, 'RETRY_BASE_SECONDS', DEFAULT_SETTINGS.retryBaseSeconds),
    retryCapSeconds: int(env, 'RETRY_CAP_SECONDS', DEFAULT_SETTINGS.retryCapSeconds),
    retryBudgetSeconds: int(env, 'RETRY_BUDGET_SECONDS', DEFAULT_SETTINGS.retryBudgetSeconds),
    readinessWaitMs: int(env, 'READINESS_WAIT_MS', DEFAULT_SETTINGS.readinessWaitMs),
    lockTtlMs: int(env, 'LOCK_TTL_MS', DEFAULT_SETTINGS.lockTtlMs),
    lockWaitMs: int(env, 'LOCK_WAIT_MS', DEFAULT_SETTINGS.lockWaitMs),
    maxRegenerations: int(env, 'MAX_REGENERATIONS', DEFAULT_SETTINGS.maxRegenerations),
    ...secretsKey(env),
  };
}

/**
 * The KMS key every secret the service creates is encrypted with: `SECRETS_KMS_KEY_ID` (the stack
 * sets it to its key's ARN; peerctl takes it from the operator's environment). Empty means none.
 */
export function secretsKmsKeyIdFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.SECRETS_KMS_KEY_ID?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function secretsKey(env: NodeJS.ProcessEnv): Pick<PipelineSettings, 'secretsKmsKeyId'> {
  const kmsKeyId = secretsKmsKeyIdFromEnv(env);
  return kmsKeyId === undefined ? {} : { secretsKmsKeyId: kmsKeyId };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new ValidationError(`${name} must be a non-negative integer`, name);
  return value;
}

export const DEFAULT_ROTATION_AFTER_DAYS = 30;

/** ROTATION_AFTER_DAYS: from 1 to 1000, Secrets Manager's bounds for AutomaticallyAfterDays. */
export function rotationAfterDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const name = 'ROTATION_AFTER_DAYS';
  const value = int(env, name, DEFAULT_ROTATION_AFTER_DAYS);
  if (value < 1 || value > 1000)
    throw new ValidationError(`${name} must be an integer from 1 to 1000, got ${env[name] ?? ''}`, name);
  return value;
}

export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '')
    throw new ValidationError(`environment variable ${name} is not set`, name);
  return value;
}
