import { createHash, randomUUID } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ValidationError } from '#commons/errors';
import { systemClock, type Clock } from '#commons/ports/clock';
import type { OutgoingMessage, Queue, SentMessage, SourceQueue } from '#commons/ports/queue';

export interface InProcessQueueOptions {
  /** Appears in the records' eventSourceARN. A name ending in `.fifo` makes a FIFO queue. */
  name?: string;
  fifo?: boolean;
  /** How long a received message stays hidden before it is delivered again (SQS default: 30 s). */
  visibilityTimeoutSeconds?: number;
  /** Queue-level delay, used when a message names none (and always on FIFO queues). */
  delaySeconds?: number;
  /** FIFO: deduplicate on a SHA-256 of the body when a message carries no deduplication id. */
  contentBasedDeduplication?: boolean;
  /** SQS redrive: a message received `maxReceiveCount` times moves to `target` on its next receive. */
  deadLetter?: { target: InProcessQueue | DeadLetteredMessage[]; maxReceiveCount: number };
  clock?: Clock;
}

export interface ReceiveOptions {
  /** 1..10, as in SQS. */
  max?: number;
  /** Long polling: wait up to this long for a first message. */
  waitMs?: number;
  /** Ends a long poll early with whatever is there (usually nothing). */
  signal?: AbortSignal;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  receiveCount: number;
  sentAt: Date;
  firstReceivedAt: Date;
  groupId?: string;
  deduplicationId?: string;
  sequenceNumber?: string;
}

export interface DeadLetteredMessage {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  receiveCount: number;
  sentAt: Date;
  movedAt: Date;
  groupId?: string;
  deduplicationId?: string;
}

// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a Lambda SQS handler may return nothing
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface BatchOutcome {
  received: number;
  deleted: number;
  failed: number;
}

export interface QueueStats {
  /** ApproximateNumberOfMessages: receivable now. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, neither deleted nor back yet. */
  inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  delayed: number;
}

interface StoredMessage {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  receiptHandle?: string;
  groupId?: string;
  deduplicationId?: string;
  sequenceNumber: number;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ATTRIBUTES = 10;
const FIFO_DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;

/**
 * The local runtime's work queue, with the SQS semantics our handlers rely on: visibility timeout and
 * redelivery, per-message delay, receive counts, redrive to a dead-letter queue, FIFO group ordering
 * and deduplication, and Lambda's partial batch response on the consumer side. Time comes from the
 * clock; long polls wait on timers, so jest fake timers drive both.
 */
export class InProcessQueue implements Queue, SourceQueue {
  readonly name: string;
  readonly fifo: boolean;
  readonly arn: string;
  private readonly visibilityTimeoutMs: number;
  private readonly delayMs: number;
  private readonly contentBasedDeduplication: boolean;
  private readonly deadLetter: InProcessQueueOptions['deadLetter'];
  private readonly clock: Clock;
  /** In send order, which is also FIFO order. */
  private messages: StoredMessage[] = [];
  private readonly deduplication = new Map<string, { messageId: string; expiresAt: number }>();
  private readonly waiters = new Set<() => void>();
  private nextSequenceNumber = 1;

  constructor(options: InProcessQueueOptions = {}) {
    this.name = options.name ?? 'local-queue';
    this.fifo = options.fifo ?? this.name.endsWith('.fifo');
    this.arn = `arn:aws:sqs:local:000000000000:${this.name}`;
    this.visibilityTimeoutMs = seconds(
      options.visibilityTimeoutSeconds ?? 30,
      0,
      43_200,
      'visibilityTimeoutSeconds',
    );
    this.delayMs = seconds(options.delaySeconds ?? 0, 0, 900, 'delaySeconds');
    this.contentBasedDeduplication = options.contentBasedDeduplication ?? false;
    if (options.deadLetter !== undefined) {
      const { maxReceiveCount } = options.deadLetter;
      if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
        throw new ValidationError(
          'maxReceiveCount must be an integer from 1 to 1000',
          'deadLetter.maxReceiveCount',
        );
      }
    }
    this.deadLetter = options.deadLetter;
    this.clock = options.clock ?? systemClock;
  }

  // The executor form turns a validation error into a rejection, as from a real transport.
  send(message: OutgoingMessage): Promise<SentMessage> {
    return new Promise((resolve) => {
      resolve(this.enqueue(message));
    });
  }

  sendBatch(messages: OutgoingMessage[]): Promise<SentMessage[]> {
    return new Promise((resolve) => {
      // Validate everything first, so a bad entry does not leave half a batch sent.
      messages.forEach((message) => {
        this.validate(message);
      });
      resolve(messages.map((message) => this.enqueue(message)));
    });
  }

  /** Receives up to `max` messages, hiding each for the visibility timeout. */
  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const max = options.max ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw new ValidationError('max must be an integer from 1 to 10', 'max');
    }
    const waitMs = options.waitMs ?? 0;
    let received = this.take(max);
    if (received.length > 0 || waitMs <= 0 || options.signal?.aborted === true) return received;

    // The deadline is a timer, not a clock reading, so a long poll ends even if a test's clock stands still.
    const wait = { expired: false };
    const deadline = setTimeout(() => {
      wait.expired = true;
      this.notify();
    }, waitMs);
    const abort = (): void => {
      this.notify();
    };
    const { signal } = options;
    signal?.addEventListener('abort', abort);
    try {
      while (received.length === 0 && !wait.expired && !isAborted(signal)) {
        await this.changed(this.nextVisibleInMs());
        received = this.take(max);
      }
      return received;
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', abort);
    }
  }

  /** Deletes the message last received with this handle; false when there is none (already deleted). */
  delete(receiptHandle: string): boolean {
    const index = this.messages.findIndex((message) => message.receiptHandle === receiptHandle);
    if (index < 0) return false;
    this.messages.splice(index, 1);
    this.notify(); // a FIFO group may be unblocked
    return true;
  }

  /** Hides an in-flight message for `timeoutSeconds` from now (0 makes it receivable at once). */
  changeVisibility(receiptHandle: string, timeoutSeconds: number): boolean {
    const timeoutMs = seconds(timeoutSeconds, 0, 43_200, 'timeoutSeconds');
    const now = this.now();
    const message = this.messages.find((candidate) => candidate.receiptHandle === receiptHandle);
    if (message === undefined || message.visibleAt <= now) return false; // SQS: MessageNotInflight
    message.visibleAt = now + timeoutMs;
    this.notify();
    return true;
  }

  retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    // A message that is no longer in flight (deleted, or already visible again) needs no delay.
    this.changeVisibility(receiptHandle, seconds);
    return Promise.resolve();
  }

  stats(): QueueStats {
    const now = this.now();
    const stats: QueueStats = { visible: 0, inFlight: 0, delayed: 0 };
    for (const message of this.messages) {
      if (message.visibleAt <= now) stats.visible++;
      else if (message.receiveCount > 0) stats.inFlight++;
      else stats.delayed++;
    }
    return stats;
  }

  /**
   * One Lambda invocation: receives up to `max` messages without waiting, hands them to `handler` as an
   * SQS event and settles them as Lambda's event source mapping does with ReportBatchItemFailures.
   */
  async processBatch(handler: SqsBatchHandler, options: { max?: number } = {}): Promise<BatchOutcome> {
    return this.invoke(handler, await this.receive({ max: options.max ?? 10 }));
  }

  /**
   * Invokes `handler` until no message is receivable now. Failed messages come back only after their
   * visibility timeout, so one drain handles each message at most once unless that timeout is 0.
   */
  async drain(handler: SqsBatchHandler, options: { max?: number } = {}): Promise<BatchOutcome> {
    const total: BatchOutcome = { received: 0, deleted: 0, failed: 0 };
    for (;;) {
      const outcome = await this.processBatch(handler, options);
      if (outcome.received === 0) return total;
      total.received += outcome.received;
      total.deleted += outcome.deleted;
      total.failed += outcome.failed;
    }
  }

  /** Lambda's poller: long-polls and invokes `handler` until `signal` aborts. */
  async poll(
    handler: SqsBatchHandler,
    options: { signal: AbortSignal; max?: number; waitMs?: number },
  ): Promise<void> {
    while (!options.signal.aborted) {
      const messages = await this.receive({
        max: options.max ?? 10,
        waitMs: options.waitMs ?? 20_000,
        signal: options.signal,
      });
      await this.invoke(handler, messages);
    }
  }

  private async invoke(handler: SqsBatchHandler, messages: ReceivedMessage[]): Promise<BatchOutcome> {
    if (messages.length === 0) return { received: 0, deleted: 0, failed: 0 };
    const records = messages.map((message) => this.record(message));
    let failed: Set<string>;
    try {
      failed = failedIds(await handler({ Records: records }), records);
    } catch {
      failed = new Set(records.map((record) => record.messageId)); // a thrown error fails the whole batch
    }
    let deleted = 0;
    for (const record of records) {
      if (!failed.has(record.messageId) && this.delete(record.receiptHandle)) deleted++;
    }
    return { received: records.length, deleted, failed: failed.size };
  }

  private record(message: ReceivedMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: message.receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt.getTime()),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt.getTime()),
        ...(message.groupId === undefined ? {} : { MessageGroupId: message.groupId }),
        ...(message.deduplicationId === undefined ? {} : { MessageDeduplicationId: message.deduplicationId }),
        ...(message.sequenceNumber === undefined ? {} : { SequenceNumber: message.sequenceNumber }),
      },
      messageAttributes: Object.fromEntries(
        Object.entries(message.attributes).map(([name, value]) => [
          name,
          { stringValue: value, stringListValues: [], binaryListValues: [], dataType: 'String' },
        ]),
      ),
      md5OfBody: createHash('md5').update(message.body).digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: 'local',
    };
  }

  private enqueue(message: OutgoingMessage): SentMessage {
    this.validate(message);
    const now = this.now();
    const deduplicationId = this.fifo
      ? (message.deduplicationId ?? createHash('sha256').update(message.body).digest('hex'))
      : undefined;
    if (deduplicationId !== undefined) {
      for (const [id, entry] of this.deduplication) if (entry.expiresAt <= now) this.deduplication.delete(id);
      const original = this.deduplication.get(deduplicationId);
      if (original !== undefined) return { messageId: original.messageId };
    }
    const messageId = randomUUID();
    // FIFO queues only have the queue-level delay (SQS rejects a per-message one; the port ignores it).
    const delayMs =
      this.fifo || message.delaySeconds === undefined ? this.delayMs : message.delaySeconds * 1000;
    this.messages.push({
      messageId,
      body: message.body,
      attributes: { ...message.attributes },
      sentAt: now,
      visibleAt: now + delayMs,
      receiveCount: 0,
      ...(message.groupId === undefined ? {} : { groupId: message.groupId }),
      ...(deduplicationId === undefined ? {} : { deduplicationId }),
      sequenceNumber: this.nextSequenceNumber++,
    });
    if (deduplicationId !== undefined) {
      this.deduplication.set(deduplicationId, { messageId, expiresAt: now + FIFO_DEDUPLICATION_WINDOW_MS });
    }
    this.notify();
    return { messageId };
  }

  private validate(message: OutgoingMessage): void {
    if (message.body.length === 0) throw new ValidationError('message body must not be empty', 'body');
    if (Buffer.byteLength(message.body) > MAX_BODY_BYTES) {
      throw new ValidationError(`message body is larger than ${MAX_BODY_BYTES} bytes`, 'body');
    }
    if (Object.keys(message.attributes ?? {}).length > MAX_ATTRIBUTES) {
      throw new ValidationError(`a message carries at most ${MAX_ATTRIBUTES} attributes`, 'attributes');
    }
    if (message.delaySeconds !== undefined) seconds(message.delaySeconds, 0, 900, 'delaySeconds');
    if (this.fifo && message.groupId === undefined) {
      throw new ValidationError(`FIFO queue ${this.name} needs a groupId`, 'groupId');
    }
    if (this.fifo && message.deduplicationId === undefined && !this.contentBasedDeduplication) {
      throw new ValidationError(
        `FIFO queue ${this.name} needs a deduplicationId (content-based deduplication is off)`,
        'deduplicationId',
      );
    }
  }

  /** Picks receivable messages in order, honouring FIFO groups and moving exhausted ones to the DLQ. */
  private take(max: number): ReceivedMessage[] {
    const now = this.now();
    const blockedGroups = new Set<string>();
    const taken: ReceivedMessage[] = [];
    for (const message of [...this.messages]) {
      if (taken.length === max) break;
      const group = this.fifo ? message.groupId : undefined;
      if (group !== undefined && blockedGroups.has(group)) continue;
      if (message.visibleAt > now) {
        // A hidden message holds back the rest of its FIFO group.
        if (group !== undefined) blockedGroups.add(group);
        continue;
      }
      if (this.deadLetter !== undefined && message.receiveCount >= this.deadLetter.maxReceiveCount) {
        this.moveToDeadLetter(message, now);
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + this.visibilityTimeoutMs;
      taken.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        attributes: { ...message.attributes },
        receiveCount: message.receiveCount,
        sentAt: new Date(message.sentAt),
        firstReceivedAt: new Date(message.firstReceivedAt),
        ...(message.groupId === undefined ? {} : { groupId: message.groupId }),
        ...(message.deduplicationId === undefined ? {} : { deduplicationId: message.deduplicationId }),
        ...(this.fifo ? { sequenceNumber: String(message.sequenceNumber).padStart(20, '0') } : {}),
      });
    }
    return taken;
  }

  private moveToDeadLetter(message: StoredMessage, now: number): void {
    this.messages = this.messages.filter((candidate) => candidate !== message);
    const target = this.deadLetter?.target;
    if (target instanceof InProcessQueue) {
      // Like SQS redrive: same id, body and attributes, bypassing deduplication; counting starts again.
      target.messages.push({
        messageId: message.messageId,
        body: message.body,
        attributes: message.attributes,
        sentAt: message.sentAt,
        visibleAt: now,
        receiveCount: 0,
        ...(message.groupId === undefined ? {} : { groupId: message.groupId }),
        ...(message.deduplicationId === undefined ? {} : { deduplicationId: message.deduplicationId }),
        sequenceNumber: target.nextSequenceNumber++,
      });
      target.notify();
    } else {
      target?.push({
        messageId: message.messageId,
        body: message.body,
        attributes: message.attributes,
        receiveCount: message.receiveCount,
        sentAt: new Date(message.sentAt),
        movedAt: new Date(now),
        ...(message.groupId === undefined ? {} : { groupId: message.groupId }),
        ...(message.deduplicationId === undefined ? {} : { deduplicationId: message.deduplicationId }),
      });
    }
  }

  private nextVisibleInMs(): number | undefined {
    const now = this.now();
    let next: number | undefined;
    for (const message of this.messages) {
      if (message.visibleAt > now && (next === undefined || message.visibleAt < next))
        next = message.visibleAt;
    }
    return next === undefined ? undefined : next - now;
  }

  /** Resolves on the next send, delete or visibility change, or after `timeoutMs`. */
  private changed(timeoutMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }

  private notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private now(): number {
    return this.clock.now().getTime();
  }
}

const isAborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

function seconds(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be an integer from ${min} to ${max} seconds`, field);
  }
  return value * 1000;
}

/** Lambda's rules: no failures means success; an identifier that is missing or unknown fails everything. */
function failedIds(response: unknown, records: SQSRecord[]): Set<string> {
  const all = new Set(records.map((record) => record.messageId));
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') return all;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !all.has(id)) return all;
    failed.add(id);
  }
  return failed;
}
