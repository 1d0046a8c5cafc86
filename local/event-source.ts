import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { InProcessQueue } from '#commons/local/in-process-queue';

// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a Lambda SQS handler may return nothing
export type SqsBatchHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

/** Where an event source takes records from and deletes them: real SQS, or the in-process queue. */
export interface EventSourceBackend {
  /** One long poll: up to `max` records, or none after about a second. */
  receive(max: number, signal: AbortSignal): Promise<SQSRecord[]>;
  /** Deletes handled records. A failed delete leaves them to come back: at-least-once, as in Lambda. */
  delete(records: SQSRecord[]): Promise<void>;
}

/**
 * What Lambda's SQS event source mapping does with ReportBatchItemFailures, for the local pipeline:
 * receive a batch, hand it to the handler as an SQS event, delete what did not fail. A failed record
 * is left alone: it comes back when its visibility ends (the handler may have shortened it with
 * `retryAfter`), and the queue's redrive moves it to the DLQ after maxReceiveCount receives. Runs until
 * `signal` aborts. A receive that fails (SQS down) is tried again after a pause, as Lambda keeps polling.
 */
export async function runEventSource(
  backend: EventSourceBackend,
  handler: SqsBatchHandler,
  { signal, batchSize = 10 }: { signal: AbortSignal; batchSize?: number },
): Promise<void> {
  // A function, not the property: TypeScript would narrow `signal.aborted` across the awaits below.
  const stopped = (): boolean => signal.aborted;
  while (!stopped()) {
    let records: SQSRecord[];
    try {
      records = await backend.receive(Math.min(batchSize, 10), signal);
    } catch {
      if (stopped()) return;
      await pause(RECEIVE_ERROR_PAUSE_MS, signal);
      continue;
    }
    if (records.length === 0) continue;
    let response: unknown;
    let threw = false;
    try {
      response = await handler({ Records: records });
    } catch {
      threw = true; // a thrown handler fails the whole batch, as in Lambda
    }
    const keep = threw ? new Set(records.map((r) => r.messageId)) : recordsToKeep(response, records);
    const done = records.filter((record) => !keep.has(record.messageId));
    if (done.length > 0) await backend.delete(done).catch(() => undefined);
  }
}

/**
 * Lambda's reading of a partial batch response: nothing returned, or no failures listed, means every
 * record succeeded; a response it cannot read (not an object, a list that is not a list, an identifier
 * that is empty or not in the batch) fails the whole batch.
 */
export function recordsToKeep(response: unknown, records: SQSRecord[]): Set<string> {
  const all = new Set(records.map((record) => record.messageId));
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') return all;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return all;
  const keep = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !all.has(id)) return all;
    keep.add(id);
  }
  return keep;
}

/** The in-process queue as an event source backend. */
export function inProcessEventSource(queue: InProcessQueue): EventSourceBackend {
  return {
    receive: (max, signal) => queue.receive({ max, waitMs: 1_000, signal }),
    delete: (records) => {
      for (const record of records) queue.delete(record.receiptHandle);
      return Promise.resolve();
    },
  };
}

const RECEIVE_ERROR_PAUSE_MS = 1_000;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
