/**
 * Bad input or usage (exit 2), found before anything is changed. The message names the flag or
 * argument at fault and what was expected; it never quotes a token.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` explains the fix, e.g. `cluster add`. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The operation ran and did not succeed (exit 1): the message says what failed and where. */
export class OperationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/** An error's message (duck-typed: errors may come from another realm), else the value as text. */
export function messageOf(error: unknown): string {
  const message =
    typeof error === 'object' && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(error);
}
