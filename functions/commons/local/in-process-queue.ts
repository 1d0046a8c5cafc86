import { createHash, randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';
import { ValidationError } from '#commons/errors';
import { systemClock, type Clock } from '#commons/ports/clock';
import type { OutgoingMessage, Queue, SentMessage, SourceQueue } from '#commons/ports/queue';

export interface InProcessQueueOptions {
  /** Appears in the records' eventSourceARN. */
  name?: string;
  /** How long a received message stays hidden before it is delivered again (SQS default: 30 s). */
  visibilityTimeoutSeconds?: number;
  /** SQS redrive: a message received `maxReceiveCount` times moves to `target` on its next receive. */
  deadLetter?: { target: InProcessQueue; maxReceiveCount: number };
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

interface StoredMessage {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  sentAt: number;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  receiptHandle?: string;
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ATTRIBUTES = 10;

/**
 * The local runtime's work queue: a standard SQS queue as the stack uses it, and nothing more.
 * Per-message delay, visibility timeout and redelivery, `retryAfter` (ChangeMessageVisibility, for
 * the handlers' backoff), receive counts and redrive to a dead-letter queue. Messages are received as
 * the SQS records Lambda hands a function. Time comes from the clock and long polls wait on timers, so
 * jest fake timers drive both.
 */
export class InProcessQueue implements Queue, SourceQueue {
  readonly name: string;
  readonly arn: string;
  private readonly visibilityTimeoutMs: number;
  private readonly deadLetter: InProcessQueueOptions['deadLetter'];
  private readonly clock: Clock;
  /** In send order. */
  private messages: StoredMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(options: InProcessQueueOptions = {}) {
    this.name = options.name ?? 'local-queue';
    this.arn = `arn:aws:sqs:local:000000000000:${this.name}`;
    this.visibilityTimeoutMs = seconds(
      options.visibilityTimeoutSeconds ?? 30,
      0,
      43_200,
      'visibilityTimeoutSeconds',
    );
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
      validate(message);
      const now = this.now();
      const messageId = randomUUID();
      this.messages.push({
        messageId,
        body: message.body,
        attributes: { ...message.attributes },
        sentAt: now,
        visibleAt: now + (message.delaySeconds ?? 0) * 1000,
        receiveCount: 0,
      });
      this.notify();
      resolve({ messageId });
    });
  }

  /** Receives up to `max` messages as SQS records, hiding each for the visibility timeout. */
  async receive(options: ReceiveOptions = {}): Promise<SQSRecord[]> {
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
    return true;
  }

  /** ChangeMessageVisibility: an in-flight message comes back `seconds` from now (0: at once). */
  retryAfter(receiptHandle: string, timeoutSeconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timeoutMs = seconds(timeoutSeconds, 0, 43_200, 'timeoutSeconds');
      const now = this.now();
      const message = this.messages.find((candidate) => candidate.receiptHandle === receiptHandle);
      // A message no longer in flight (deleted, or visible again) needs no delay; SQS would answer
      // MessageNotInflight, which the handler has no use for either.
      if (message !== undefined && message.visibleAt > now) {
        message.visibleAt = now + timeoutMs;
        this.notify();
      }
      resolve();
    });
  }

  /** Picks receivable messages in send order, moving exhausted ones to the dead-letter queue. */
  private take(max: number): SQSRecord[] {
    const now = this.now();
    const taken: SQSRecord[] = [];
    for (const message of [...this.messages]) {
      if (taken.length === max) break;
      if (message.visibleAt > now) continue;
      if (this.deadLetter !== undefined && message.receiveCount >= this.deadLetter.maxReceiveCount) {
        this.moveToDeadLetter(message, this.deadLetter.target, now);
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + this.visibilityTimeoutMs;
      taken.push(this.record(message, message.receiptHandle, message.firstReceivedAt));
    }
    return taken;
  }

  private record(message: StoredMessage, receiptHandle: string, firstReceivedAt: number): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(firstReceivedAt),
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

  private moveToDeadLetter(message: StoredMessage, target: InProcessQueue, now: number): void {
    this.messages = this.messages.filter((candidate) => candidate !== message);
    // Like SQS redrive: same id, body, attributes and sent time; counting starts again.
    target.messages.push({
      messageId: message.messageId,
      body: message.body,
      attributes: message.attributes,
      sentAt: message.sentAt,
      visibleAt: now,
      receiveCount: 0,
    });
    target.notify();
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

  /** Resolves on the next send or visibility change, or after `timeoutMs`. */
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

/** What SQS refuses on SendMessage, refused here too so local runs fail where AWS would. */
function validate(message: OutgoingMessage): void {
  if (message.body.length === 0) throw new ValidationError('message body must not be empty', 'body');
  if (Buffer.byteLength(message.body) > MAX_BODY_BYTES) {
    throw new ValidationError(`message body is larger than ${MAX_BODY_BYTES} bytes`, 'body');
  }
  if (Object.keys(message.attributes ?? {}).length > MAX_ATTRIBUTES) {
    throw new ValidationError(`a message carries at most ${MAX_ATTRIBUTES} attributes`, 'attributes');
  }
  if (message.delaySeconds !== undefined) seconds(message.delaySeconds, 0, 900, 'delaySeconds');
}

function seconds(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be an integer from ${min} to ${max} seconds`, field);
  }
  return value * 1000;
}
