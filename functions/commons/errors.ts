/**
 * The error hierarchy every workflow and adapter speaks. Handlers decide from it alone:
 * a retryable error leaves the SQS record to be redelivered; anything else is permanent and the
 * record is moved to the DLQ with its reason, because retrying it cannot succeed.
 */
export abstract class AutomationError extends Error {
  abstract readonly retryable: boolean;
  /** A short machine-readable reason, e.g. `validation`, `consul.permission-denied`. */
  abstract readonly reason: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input that can never be processed as given (a malformed event, a bad flag). Changes nothing. */
export class ValidationError extends AutomationError {
  readonly retryable = false;
  readonly reason = 'validation';

  constructor(
    message: string,
    /** Dotted path of the offending field, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A precondition is not met yet but may be soon (CA initialising, gateway not passing yet). */
export class NotReadyError extends AutomationError {
  readonly retryable = true;
  readonly reason = 'not-ready';
}

/** A refusal that retrying will not change (a name used in the other direction, a missing permission). */
export class PermanentError extends AutomationError {
  readonly retryable = false;
  readonly reason: string;

  constructor(message: string, reason = 'permanent', options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

export const isRetryable = (error: unknown): boolean =>
  error instanceof AutomationError ? error.retryable : true; // unknown failures: let the queue retry, bounded by maxReceiveCount
