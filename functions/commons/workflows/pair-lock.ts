import { randomUUID } from 'node:crypto';
import { NotReadyError } from '../errors';
import type { Clock } from '../ports/clock';
import type { ConsulApi } from '../ports/consul-api';
import type { WorkflowLog } from './context';

/** Where the locks live in Consul's KV store; the automation token needs `key_prefix` write on it. */
export const PAIR_LOCK_PREFIX = 'consul-peering-automation/locks';

/**
 * The lock of an unordered pair: both directions (A→B and B→A) share one, so a request and its mirror
 * are serialized and the second sees the first's peering. It lives on the cluster whose name sorts
 * first, beside the state it protects: if that Consul is down, the pair cannot be changed anyway.
 */
export function pairLockOf(a: string, b: string): { host: string; key: string } {
  const [first, second] = a < b ? [a, b] : [b, a];
  return { host: first, key: `${PAIR_LOCK_PREFIX}/${first}/${second}` };
}

/** The lock's value: who holds it, for what, and until when (ms since the epoch, by the holder's clock). */
interface Lease {
  holder: string;
  purpose: string;
  expiresAt: number;
}

export interface PairLockDependencies {
  clock: Clock;
  log: WorkflowLog;
  settings: { lockTtlMs: number; lockWaitMs: number; pollIntervalMs: number };
}

/**
 * Runs `step` while holding the pair's lock, so at most one accept, dial or unpeer mutation is in
 * flight per pair across every function instance.
 *
 * The lock is a lease in a KV key, taken with Consul's check-and-set (`?cas=0` to create, `?cas=N` to
 * take over an expired lease): the same write wins exactly once however many instances race. The
 * holder renews it every third of its TTL while the step runs; a holder that dies stops renewing and
 * its lease expires after at most `lockTtlMs`, when the next run takes it over. A run that cannot get
 * the lock within `lockWaitMs` raises NotReadyError, so its record comes back after a backoff.
 * Sessions were the other Consul primitive on offer; a CAS lease needs only `key_prefix` write (no
 * `session` rule), has no node health coupling, and its TTL is exactly what we set (Consul lets a
 * session live up to twice its TTL).
 */
export async function withPairLock<T>(
  consul: ConsulApi,
  pair: { a: string; b: string },
  purpose: string,
  deps: PairLockDependencies,
  step: () => Promise<T>,
): Promise<T> {
  const { key } = pairLockOf(pair.a, pair.b);
  const holder = randomUUID();
  await acquire(consul, key, { holder, purpose }, deps, pair);
  const renewal = startRenewal(consul, key, holder, deps);
  try {
    return await step();
  } finally {
    await renewal.stop();
    await release(consul, key, holder, deps);
  }
}

async function acquire(
  consul: ConsulApi,
  key: string,
  who: { holder: string; purpose: string },
  { clock, log, settings }: PairLockDependencies,
  pair: { a: string; b: string },
): Promise<void> {
  const deadline = clock.now().getTime() + settings.lockWaitMs;
  for (;;) {
    const current = await consul.readKey(key);
    const lease = asLease(current?.value);
    const now = clock.now().getTime();
    if (lease === undefined || lease.expiresAt <= now) {
      const next: Lease = { ...who, expiresAt: now + settings.lockTtlMs };
      if (await consul.writeKeyCas(key, next, current?.modifyIndex ?? 0)) {
        if (lease !== undefined) {
          log.warn('took over an expired pair lock', {
            pair: `${pair.a}/${pair.b}`,
            previousPurpose: lease.purpose,
            expiredMsAgo: now - lease.expiresAt,
          });
        }
        return;
      }
      continue; // another instance won this round: read its lease
    }
    if (now >= deadline) {
      throw new NotReadyError(
        `the peering of "${pair.a}" and "${pair.b}" is being changed by another run (${lease.purpose}); the lock is held for up to ${Math.ceil((lease.expiresAt - now) / 1000)} s more, retrying after that`,
      );
    }
    // Jittered, so waiters on one pair do not all read at the same instant.
    const pause = settings.pollIntervalMs * (0.5 + Math.random());
    await sleep(Math.min(pause, Math.max(1, deadline - now)));
  }
}

function startRenewal(consul: ConsulApi, key: string, holder: string, deps: PairLockDependencies) {
  let pending: Promise<void> = Promise.resolve();
  const renew = async (): Promise<void> => {
    const current = await consul.readKey(key);
    const lease = asLease(current?.value);
    if (current === undefined || lease?.holder !== holder) {
      deps.log.warn('lost the pair lock while holding it (it expired and was taken over)', { key });
      return;
    }
    const next: Lease = { ...lease, expiresAt: deps.clock.now().getTime() + deps.settings.lockTtlMs };
    await consul.writeKeyCas(key, next, current.modifyIndex);
  };
  const timer = setInterval(
    () => {
      pending = pending.then(renew).catch((error: unknown) => {
        deps.log.warn('could not renew the pair lock', {
          key,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    },
    Math.max(1, Math.floor(deps.settings.lockTtlMs / 3)),
  );
  return {
    stop: async () => {
      clearInterval(timer);
      await pending;
    },
  };
}

/** Deletes the lease if it is still ours. A failure only delays the next holder until it expires. */
async function release(consul: ConsulApi, key: string, holder: string, { log }: PairLockDependencies) {
  try {
    const current = await consul.readKey(key);
    if (current !== undefined && asLease(current.value)?.holder === holder) {
      await consul.deleteKeyCas(key, current.modifyIndex);
    }
  } catch (error) {
    log.warn('could not release the pair lock; it expires on its own', {
      key,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

function asLease(value: unknown): Lease | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { holder, purpose, expiresAt } = value as Partial<Record<keyof Lease, unknown>>;
  if (typeof holder !== 'string' || typeof purpose !== 'string' || typeof expiresAt !== 'number')
    return undefined;
  return { holder, purpose, expiresAt };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
