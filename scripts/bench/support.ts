import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { NotReadyError } from '#commons/errors';

const started = performance.now();

/** Progress on stderr (stdout carries only the result). */
export function progress(text: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`);
}

export function elapsedSeconds(): string {
  return ((performance.now() - started) / 1000).toFixed(1);
}

export const round = (ms: number): number => Math.round(ms * 10) / 10;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
}

/** The median of each key over records that share their keys, rounded. */
export function medians<K extends string>(records: readonly Record<K, number>[]): Record<K, number> {
  const first = records[0];
  if (first === undefined) return {} as Record<K, number>;
  const keys = Object.keys(first) as K[];
  return Object.fromEntries(keys.map((k) => [k, round(median(records.map((r) => r[k])))])) as Record<
    K,
    number
  >;
}

/** Retries `attempt` every 100 ms while it throws NotReadyError (a precondition not met yet). */
export async function retryWhileNotReady<T>(
  what: string,
  timeoutMs: number,
  attempt: () => Promise<T>,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof NotReadyError) || performance.now() > deadline) {
        throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
    }
    await sleep(100);
  }
}
