import { backoffDelay, DEFAULT_RETRY_POLICY, retryPolicy, sleep } from './retry';

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, scaled by the jitter draw', () => {
    const top = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999_999 });
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(top, attempt))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
  });

  it('uses full jitter: a zero draw waits not at all', () => {
    expect(backoffDelay(retryPolicy({ random: () => 0 }), 3)).toBe(0);
  });

  it('defaults to 4 attempts', () => {
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBe(4);
  });

  it('rejects nonsense', () => {
    expect(() => retryPolicy({ maxAttempts: 0 })).toThrow(RangeError);
    expect(() => retryPolicy({ baseDelayMs: -1 })).toThrow(RangeError);
  });
});

describe('sleep', () => {
  it('rejects with the reason as soon as the signal aborts', async () => {
    const controller = new AbortController();
    const pending = sleep(60_000, controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('rejects at once on an aborted signal', async () => {
    await expect(sleep(60_000, AbortSignal.abort('gone'))).rejects.toBe('gone');
  });

  it('resolves after the delay', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
