/**
 * Waiting with a deadline and progress: each watched item is probed every interval; its state is
 * printed when it changes (one line per change, with the elapsed seconds), and it is finished once its
 * probe returns a result. A probe that throws (a cluster briefly unreachable) is a state, not the end.
 */
import { messageOf } from './errors';
import type { Output } from './io';

export interface Watched<T> {
  label: string;
  probe(): Promise<{ state?: string; done?: T }>;
}

export type WaitResult<T> =
  | { status: 'done'; value: T }
  | { status: 'timed out'; lastState: string | undefined }
  | { status: 'interrupted' };

export interface WaitOptions {
  timeoutMs: number;
  out: Output;
  signal?: AbortSignal | undefined;
  intervalMs?: number;
}

export async function waitForAll<T>(
  items: readonly Watched<T>[],
  { timeoutMs, out, signal, intervalMs = 500 }: WaitOptions,
): Promise<WaitResult<T>[]> {
  const deadline = Date.now() + timeoutMs;
  const results = new Map<number, WaitResult<T>>();
  const lastState = new Map<number, string>();
  for (;;) {
    for (const [i, item] of items.entries()) {
      if (results.has(i)) continue;
      let state: string | undefined;
      try {
        const probe = await item.probe();
        if (probe.done !== undefined) {
          results.set(i, { status: 'done', value: probe.done });
          continue;
        }
        state = probe.state;
      } catch (error) {
        state = `cannot check yet: ${messageOf(error)}`;
      }
      if (state !== undefined && state !== lastState.get(i)) {
        lastState.set(i, state);
        out.progress(`${item.label}: ${state}`);
      }
    }
    if (results.size === items.length) break;
    const aborted = signal?.aborted === true;
    if (aborted || Date.now() >= deadline) {
      for (const i of items.keys()) {
        if (!results.has(i))
          results.set(
            i,
            aborted ? { status: 'interrupted' } : { status: 'timed out', lastState: lastState.get(i) },
          );
      }
      break;
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())), signal);
  }
  return items.map((_, i) => results.get(i) as WaitResult<T>);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
