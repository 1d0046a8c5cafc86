/**
 * The SDK client settings of the queue-triggered functions. Without a request timeout the SDK waits
 * for an answer as long as the socket stays open, so one Secrets Manager or SQS call that never
 * answers would hold the function to its own timeout (found by the chaos matrix, docs/chaos.md). With
 * one, a stalled call fails fast and the SDK's standard retry strategy (3 attempts with backoff) tries
 * again; nothing of ours retries on top of it.
 */
export const FUNCTION_AWS_CLIENT_CONFIG = {
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
};
