import { NotReadyError } from '../errors';
import type { ConsulApi } from '../ports/consul-api';
import { memoryKv } from './memory-kv.test-support';
import { pairLockOf, withPairLock, type PairLockDependencies } from './pair-lock';

const warnings: string[] = [];
const deps = (overrides: Partial<PairLockDependencies['settings']> = {}): PairLockDependencies => ({
  clock: { now: () => new Date() },
  log: { info: () => undefined, warn: (message) => void warnings.push(message) },
  settings: { lockTtlMs: 1_000, lockWaitMs: 2_000, pollIntervalMs: 5, ...overrides },
});
const pair = { a: 'dc2', b: 'dc1' };

beforeEach(() => {
  warnings.length = 0;
});

test('both directions of a pair share one key, on the cluster whose name sorts first', () => {
  expect(pairLockOf('dc2', 'dc1')).toEqual(pairLockOf('dc1', 'dc2'));
  expect(pairLockOf('dc2', 'dc1')).toEqual({ host: 'dc1', key: 'consul-peering-automation/locks/dc1/dc2' });
});

test('concurrent holders of one pair never overlap, and the key is gone afterwards', async () => {
  const kv = memoryKv();
  let inside = 0;
  let most = 0;
  const step = async () => {
    inside += 1;
    most = Math.max(most, inside);
    await new Promise((resolve) => setTimeout(resolve, 10));
    inside -= 1;
  };
  await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      withPairLock(
        kv as unknown as ConsulApi,
        i % 2 === 0 ? pair : { a: 'dc1', b: 'dc2' },
        `run ${i}`,
        deps(),
        step,
      ),
    ),
  );
  expect(most).toBe(1);
  expect(kv.entries.size).toBe(0);
});

test('a lease nobody renews is taken over once it expires', async () => {
  const kv = memoryKv();
  const { key } = pairLockOf(pair.a, pair.b);
  await kv.writeKeyCas(key, { holder: 'dead', purpose: 'dial', expiresAt: Date.now() + 50 }, 0);
  const started = Date.now();
  await withPairLock(kv as unknown as ConsulApi, pair, 'accept', deps(), () => Promise.resolve());
  expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  expect(warnings).toEqual(['took over an expired pair lock']);
});

test('a live lease held past the wait is a retryable NotReadyError naming the pair and the holder', async () => {
  const kv = memoryKv();
  const { key } = pairLockOf(pair.a, pair.b);
  await kv.writeKeyCas(key, { holder: 'alive', purpose: 'dial dc1→dc2', expiresAt: Date.now() + 60_000 }, 0);
  const step = jest.fn(() => Promise.resolve());
  const run = withPairLock(kv as unknown as ConsulApi, pair, 'accept', deps({ lockWaitMs: 30 }), step);
  await expect(run).rejects.toThrow(NotReadyError);
  await expect(run).rejects.toThrow(/"dc2" and "dc1" is being changed by another run \(dial dc1→dc2\)/);
  expect(step).not.toHaveBeenCalled();
});

test('a long step keeps its lease renewed, so nobody takes it over meanwhile', async () => {
  const kv = memoryKv();
  const settings = { lockTtlMs: 60, lockWaitMs: 1_000, pollIntervalMs: 5 };
  const order: string[] = [];
  const long = withPairLock(kv as unknown as ConsulApi, pair, 'long', deps(settings), async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    order.push('long done');
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = withPairLock(kv as unknown as ConsulApi, pair, 'second', deps(settings), () => {
    order.push('second ran');
    return Promise.resolve();
  });
  await Promise.all([long, second]);
  expect(order).toEqual(['long done', 'second ran']);
  expect(warnings).toEqual([]);
});
