import { isRetryableByTrait, isServerError, isThrottlingError, isTransientError } from '@smithy/core/retry';

/**
 * Whether a failed AWS SDK call may succeed if the whole step runs again later. It is asked only after
 * the SDK's own retry strategy has given up, and it uses the same classification that strategy uses
 * (throttling, transient, 5xx, the `retryable` trait, plus a modeled server fault), so both adapters and the SDK agree on what is
 * worth retrying. A failure that is not a service response at all (no `$metadata`: DNS, a refused or
 * dropped connection the SDK did not name) is retryable too: the endpoint may be back next time.
 */
type ClassifiedError = Parameters<typeof isServerError>[0];

export function isRetryableAwsError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const sdk = error as ClassifiedError;
  return (
    sdk.$metadata === undefined ||
    sdk.$fault === 'server' || // the service's model says the fault is on its side
    isRetryableByTrait(sdk) ||
    isThrottlingError(sdk) ||
    isTransientError(sdk) ||
    isServerError(sdk)
  );
}
