import { ValidationError } from '#commons/errors';
import type { DriftScanOptions } from './handler';

/** `DRIFT_SCAN_CONCURRENCY` (clusters read at once) and `DRIFT_PENDING_TOO_LONG_MINUTES`; unset means the defaults. */
export function driftOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DriftScanOptions {
  const concurrency = positiveInt(env, 'DRIFT_SCAN_CONCURRENCY');
  const pendingMinutes = positiveInt(env, 'DRIFT_PENDING_TOO_LONG_MINUTES');
  return {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(pendingMinutes === undefined ? {} : { pendingTooLongMs: pendingMinutes * 60_000 }),
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new ValidationError(`${name} must be a positive integer`, name);
  return value;
}
