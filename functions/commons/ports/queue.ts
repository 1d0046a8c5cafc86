/**
 * The work queue (a standard SQS queue in AWS, an in-process queue locally). Bodies are event
 * envelopes as JSON.
 */
export interface Queue {
  send(message: OutgoingMessage): Promise<SentMessage>;
}

export interface OutgoingMessage {
  body: string;
  /** String message attributes (event type, correlation id); never secret values. */
  attributes?: Record<string, string>;
  /** 0..900 seconds. */
  delaySeconds?: number;
}

export interface SentMessage {
  messageId: string;
}

/** The queue a function consumes, as far as its handler needs it. */
export interface SourceQueue {
  /**
   * Makes a received message visible again `seconds` from now (SQS ChangeMessageVisibility), so a
   * retry comes back after a backoff instead of the queue's whole visibility timeout.
   */
  retryAfter(receiptHandle: string, seconds: number): Promise<void>;
}
