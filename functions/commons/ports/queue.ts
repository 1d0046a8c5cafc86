/** The work queue (SQS in AWS, an in-process queue locally). Bodies are event envelopes as JSON. */
export interface Queue {
  send(message: OutgoingMessage): Promise<SentMessage>;
  /** Sends up to any number of messages; adapters split them into the transport's batch size. */
  sendBatch(messages: OutgoingMessage[]): Promise<SentMessage[]>;
}

export interface OutgoingMessage {
  body: string;
  /** String message attributes (event type, correlation id); never secret values. */
  attributes?: Record<string, string>;
  /** 0..900 seconds. Ignored per-message by FIFO queues (SQS rule), which only have a queue-level delay. */
  delaySeconds?: number;
  /** FIFO only: messages of one group are delivered in order. */
  groupId?: string;
  /** FIFO only: a repeat within 5 minutes is dropped. */
  deduplicationId?: string;
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
