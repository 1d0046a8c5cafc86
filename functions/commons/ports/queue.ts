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
