import fc from 'fast-check';
import { backoffSeconds } from './retry-backoff';

const policy = { retryBaseSeconds: 1, retryCapSeconds: 30 };

describe('backoffSeconds', () => {
  it('starts near one second and doubles', () => {
    expect(backoffSeconds(1, policy, () => 1)).toBe(1);
    expect(backoffSeconds(2, policy, () => 1)).toBe(2);
    expect(backoffSeconds(3, policy, () => 1)).toBe(4);
    expect(backoffSeconds(4, policy, () => 0)).toBe(4);
  });

  it('never exceeds the cap, never goes below half the step or one second', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 900 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (attempt, base, cap, r) => {
          const seconds = backoffSeconds(attempt, { retryBaseSeconds: base, retryCapSeconds: cap }, () => r);
          const step = Math.min(cap, base * 2 ** Math.min(attempt - 1, 30));
          expect(seconds).toBeGreaterThanOrEqual(Math.max(1, Math.floor(step / 2)));
          expect(seconds).toBeLessThanOrEqual(Math.max(1, Math.ceil(step)));
          expect(Number.isInteger(seconds)).toBe(true);
        },
      ),
    );
  });

  it('jitters: the same attempt spreads over half its step', () => {
    const seen = new Set([0, 0.25, 0.5, 0.75, 0.99].map((r) => backoffSeconds(6, policy, () => r)));
    expect([...seen].every((s) => s >= 15 && s <= 30)).toBe(true);
    expect(seen.size).toBeGreaterThan(2);
  });
});
