/**
 * Bounded exponential backoff with full jitter for the client's own retries of safe requests. Kept
 * short on purpose: the SQS redelivery is the long-period retry, this one only smooths a blip (a
 * leader election, a restarting agent) inside one Lambda invocation.
 */
export interface RetryPolicy {
  /** Attempts in total, the first included. 1 disables retries. */
  maxAttempts: number;
  /** Upper bound of the first delay; doubles per attempt. */
  baseDelayMs: number;
  /** Cap of any single delay. */
  maxDelayMs: number;
  /** Source of jitter in [0, 1); injectable so tests are deterministic. */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 2_000,
  random: Math.random,
};

export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  const policy = { ...DEFAULT_RETRY_POLICY, ...overrides };
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new RangeError(`retry.maxAttempts must be an integer >= 1, got ${policy.maxAttempts}`);
  }
  if (policy.baseDelayMs < 0 || policy.maxDelayMs < 0) throw new RangeError('retry delays must be >= 0');
  return policy;
}

/**
 * Delay before attempt `attempt + 1`, given that `attempt` (1-based) just failed: "full jitter", a
 * uniform draw in [0, min(max, base * 2^(attempt-1))], which spreads retries of many Lambdas apart.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(policy.random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
