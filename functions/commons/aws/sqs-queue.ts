import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type BatchResultErrorEntry,
  type MessageAttributeValue,
  type SendMessageBatchRequestEntry,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { AutomationError } from '#commons/errors';
import type { OutgoingMessage, Queue, SentMessage, SourceQueue } from '#commons/ports/queue';
import { isRetryableAwsError } from './sdk-errors';

export interface SqsQueueOptions {
  queueUrl: string;
  /** An SDK client to share, or the config to build one (endpoint, region, credentials). */
  client?: SQSClient | SQSClientConfig;
  /** Defaults to whether the queue URL ends in `.fifo`, as SQS requires of FIFO queue names. */
  fifo?: boolean;
}

/** An SQS call that failed, named by operation and queue; `retryable` follows the SDK's classification. */
export class SqsError extends AutomationError {
  readonly retryable: boolean;
  readonly reason: string;

  constructor(
    readonly operation: string,
    readonly queueUrl: string,
    readonly code: string,
    message: string,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.retryable = retryable;
    this.reason = `sqs.${code}`;
  }
}

export interface FailedBatchEntry {
  /** Position of the message in the array given to `sendBatch`. */
  index: number;
  code: string;
  message: string;
  senderFault: boolean;
}

/**
 * Some entries of a `sendBatch` were not accepted. The others were sent: `sent[index]` holds them, so a
 * caller can resend only what failed. Retryable only when every failure was SQS's fault, not ours.
 */
export class SqsBatchSendError extends AutomationError {
  readonly retryable: boolean;
  readonly reason = 'sqs.batch-entries-failed';

  constructor(
    readonly queueUrl: string,
    readonly failed: FailedBatchEntry[],
    readonly sent: (SentMessage | undefined)[],
  ) {
    const listed = failed
      .map(
        (entry) =>
          `#${entry.index} ${entry.code}${entry.senderFault ? ' (sender fault)' : ''}: ${entry.message}`,
      )
      .join('; ');
    super(
      `SQS SendMessageBatch to ${queueUrl}: ${failed.length} of ${sent.length} messages failed: ${listed}`,
    );
    this.retryable = failed.every((entry) => !entry.senderFault);
  }
}

const MAX_BATCH_ENTRIES = 10;
// SQS now accepts 1 MiB per batch; staying under the historical 256 KiB keeps every endpoint happy.
const MAX_BATCH_BYTES = 256 * 1024;

export class SqsQueue implements Queue, SourceQueue {
  readonly queueUrl: string;
  readonly fifo: boolean;
  private readonly client: SQSClient;

  constructor(options: SqsQueueOptions) {
    this.queueUrl = options.queueUrl;
    this.fifo = options.fifo ?? options.queueUrl.endsWith('.fifo');
    const client = options.client ?? {};
    this.client = client instanceof SQSClient ? client : new SQSClient(client);
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    try {
      const result = await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, ...this.fields(message) }),
      );
      return { messageId: this.required(result.MessageId, 'SendMessage') };
    } catch (error) {
      throw this.wrap(error, 'SendMessage');
    }
  }

  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      throw this.wrap(error, 'ChangeMessageVisibility');
    }
  }

  async sendBatch(messages: OutgoingMessage[]): Promise<SentMessage[]> {
    const sent = Array.from<SentMessage | undefined>({ length: messages.length });
    const failed: FailedBatchEntry[] = [];
    // FIFO order: once a message of a group failed, sending later ones of that group would overtake it.
    const failedGroups = new Set<string>();
    for (const chunk of chunks(messages)) {
      let pending = chunk.filter((index) => {
        const group = this.fifo ? messages[index]?.groupId : undefined;
        if (group === undefined || !failedGroups.has(group)) return true;
        failed.push({
          index,
          code: 'NotSent',
          message: `an earlier message of group ${group} failed`,
          senderFault: false,
        });
        return false;
      });
      for (let attempt = 1; pending.length > 0; attempt++) {
        const failures = await this.sendChunk(pending, messages, sent);
        // Only SQS-side failures are worth one more try; a sender fault fails the same way again.
        const retry = attempt === 1 ? failures.filter((failure) => !failure.senderFault) : [];
        for (const failure of failures) {
          if (retry.includes(failure)) continue;
          failed.push(failure);
          const group = messages[failure.index]?.groupId;
          if (this.fifo && group !== undefined) failedGroups.add(group);
        }
        pending = retry.map((failure) => failure.index);
      }
    }
    if (failed.length > 0) {
      failed.sort((a, b) => a.index - b.index);
      throw new SqsBatchSendError(this.queueUrl, failed, sent);
    }
    // Every index got a result or became a failure (see sendChunk), so none is missing here.
    return sent as SentMessage[];
  }

  /** Sends the messages at `indexes`, records the sent ones in `sent`, and returns the failures. */
  private async sendChunk(
    indexes: number[],
    messages: OutgoingMessage[],
    sent: (SentMessage | undefined)[],
  ): Promise<FailedBatchEntry[]> {
    const entries: SendMessageBatchRequestEntry[] = indexes.map((index) => ({
      Id: String(index),
      ...this.fields(messages[index] as OutgoingMessage),
    }));
    let result;
    try {
      result = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
    } catch (error) {
      const wrapped = this.wrap(error, 'SendMessageBatch');
      const already = sent.filter((message) => message !== undefined).length;
      if (already > 0) wrapped.message += ` (${already} of ${messages.length} messages were already sent)`;
      throw wrapped;
    }
    for (const entry of result.Successful ?? []) {
      sent[Number(entry.Id)] = { messageId: this.required(entry.MessageId, 'SendMessageBatch') };
    }
    const failures = (result.Failed ?? []).map((entry) => failedEntry(entry));
    const answered = new Set([
      ...(result.Successful ?? []).map((entry) => Number(entry.Id)),
      ...failures.map((f) => f.index),
    ]);
    for (const index of indexes) {
      if (!answered.has(index)) {
        failures.push({
          index,
          code: 'MissingResult',
          message: 'SQS reported neither success nor failure',
          senderFault: false,
        });
      }
    }
    return failures;
  }

  private fields(message: OutgoingMessage): Omit<SendMessageBatchRequestEntry, 'Id'> {
    return {
      MessageBody: message.body,
      MessageAttributes: message.attributes && stringAttributes(message.attributes),
      // SQS rejects a per-message delay on FIFO queues; the port documents that it is ignored there.
      DelaySeconds: this.fifo ? undefined : message.delaySeconds,
      MessageGroupId: message.groupId,
      MessageDeduplicationId: message.deduplicationId,
    };
  }

  private required(value: string | undefined, operation: string): string {
    if (value === undefined) {
      throw new SqsError(
        operation,
        this.queueUrl,
        'MalformedResponse',
        `SQS ${operation} returned no MessageId`,
        true,
      );
    }
    return value;
  }

  private wrap(error: unknown, operation: string): SqsError | AutomationError {
    if (error instanceof AutomationError) return error;
    const code = error instanceof Error ? error.name : 'UnknownError';
    const detail = error instanceof Error ? error.message : String(error);
    const retryable = isRetryableAwsError(error);
    return new SqsError(
      operation,
      this.queueUrl,
      code,
      `SQS ${operation} to ${this.queueUrl} failed: ${code}: ${detail}`,
      retryable,
      {
        cause: error,
      },
    );
  }
}

function stringAttributes(attributes: Record<string, string>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
  );
}

function failedEntry(entry: BatchResultErrorEntry): FailedBatchEntry {
  return {
    index: Number(entry.Id),
    code: entry.Code ?? 'Unknown',
    message: entry.Message ?? '',
    // The JSON protocol is typed boolean, but some endpoints (moto) send the string "true".
    senderFault: String(entry.SenderFault) === 'true',
  };
}

/** Indexes of `messages` in SendMessageBatch-sized groups: at most 10 entries and MAX_BATCH_BYTES each. */
function chunks(messages: OutgoingMessage[]): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  messages.forEach((message, index) => {
    const size = messageBytes(message);
    if (current.length === MAX_BATCH_ENTRIES || (current.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(index);
    bytes += size;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

function messageBytes(message: OutgoingMessage): number {
  let size = Buffer.byteLength(message.body);
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength('String') + Buffer.byteLength(value);
  }
  return size;
}
