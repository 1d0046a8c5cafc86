/** The three settings that shape how a retryable failure comes back (PipelineSettings carries them). */
export interface BackoffPolicy {
  retryBaseSeconds: number;
  retryCapSeconds: number;
}

/**
 * Seconds until retry number `attempt` (1 for the first retry): exponential from the base, capped,
 * with "equal jitter" (half the step fixed, half random). The fixed half keeps a retry from coming
 * back much earlier than planned; the random half spreads the retries of many records that failed
 * together (a fleet waiting for one gateway). Whole seconds, at least 1: SQS visibility and message
 * delays are whole seconds.
 */
export function backoffSeconds(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const step = Math.min(policy.retryCapSeconds, policy.retryBaseSeconds * 2 ** exponent);
  return Math.max(1, Math.round(step / 2 + (random() * step) / 2));
}
