import type { SQSEvent } from 'aws-lambda';
import { InProcessQueue } from '#commons/local/in-process-queue';
import { inProcessEventSource, runEventSource, type SqsBatchHandler } from '../../local/event-source';

// Lambda's SQS event source mapping with ReportBatchItemFailures, as the local pipeline runs it: one
// loop, here over the in-process backend (the SQS backend runs in the pipeline's integration tests).
beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});

afterEach(() => {
  jest.useRealTimers();
});

const advance = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);
const bodies = (event: SQSEvent) => event.Records.map((r) => r.body);

/** Runs the event source over `queue` with `respond` until the returned stop() is called. */
function consume(queue: InProcessQueue, respond: SqsBatchHandler, batchSize?: number) {
  const controller = new AbortController();
  const batches: string[][] = [];
  const running = runEventSource(
    inProcessEventSource(queue),
    (event) => {
      batches.push(bodies(event));
      return respond(event);
    },
    { signal: controller.signal, ...(batchSize === undefined ? {} : { batchSize }) },
  );
  return {
    batches,
    stop: async () => {
      controller.abort();
      await running;
    },
  };
}

async function sendAll(queue: InProcessQueue, messages: string[]) {
  for (const body of messages) await queue.send({ body });
}

test('deletes what did not fail; a listed failure comes back after the visibility timeout', async () => {
  const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
  await sendAll(queue, ['ok-1', 'fail', 'ok-2']);
  let failOnce = true;
  const source = consume(queue, (event) => {
    const failed = failOnce ? event.Records.filter((r) => r.body === 'fail') : [];
    failOnce = false;
    return Promise.resolve({ batchItemFailures: failed.map((r) => ({ itemIdentifier: r.messageId })) });
  });

  await advance(0);
  await advance(30_000);
  await advance(2_000); // the long poll that follows comes back empty
  await source.stop();

  expect(source.batches).toEqual([['ok-1', 'fail', 'ok-2'], ['fail']]);
  expect(await queue.receive()).toEqual([]);
});

test('a thrown error, an unknown or an empty itemIdentifier fails the whole batch', async () => {
  const responses: SqsBatchHandler[] = [
    () => Promise.reject(new Error('boom')),
    () => Promise.resolve({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }),
    () => Promise.resolve({ batchItemFailures: [{ itemIdentifier: '' }] }),
    () => Promise.resolve(),
  ];
  const queue = new InProcessQueue({ visibilityTimeoutSeconds: 10 });
  await sendAll(queue, ['a', 'b']);
  let call = 0;
  const source = consume(queue, (event) => (responses[call++] ?? (() => Promise.resolve()))(event));

  for (let delivery = 0; delivery < 4; delivery++) await advance(10_000);
  await source.stop();

  expect(source.batches).toEqual([
    ['a', 'b'],
    ['a', 'b'],
    ['a', 'b'],
    ['a', 'b'],
  ]);
  expect(await queue.receive()).toEqual([]); // the fourth, a void response, succeeded
});

test('hands over at most batchSize records per invocation', async () => {
  const queue = new InProcessQueue();
  await sendAll(
    queue,
    Array.from({ length: 7 }, (_, i) => `m${i}`),
  );
  const source = consume(queue, () => Promise.resolve({ batchItemFailures: [] }), 3);

  await advance(0);
  await source.stop();

  expect(source.batches.map((batch) => batch.length)).toEqual([3, 3, 1]);
});

test('a record that always fails ends in the dead-letter queue after maxReceiveCount deliveries', async () => {
  const dlq = new InProcessQueue({ name: 'dlq' });
  const queue = new InProcessQueue({
    visibilityTimeoutSeconds: 5,
    deadLetter: { target: dlq, maxReceiveCount: 2 },
  });
  await queue.send({ body: 'poison' });
  const source = consume(queue, (event) =>
    Promise.resolve({ batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })) }),
  );

  for (let delivery = 0; delivery < 3; delivery++) await advance(5_000);
  await source.stop();

  expect(source.batches).toEqual([['poison'], ['poison']]);
  expect((await dlq.receive()).map((r) => r.body)).toEqual(['poison']);
});

test('keeps polling after a failed receive, as Lambda does', async () => {
  const queue = new InProcessQueue();
  await queue.send({ body: 'after the outage' });
  const backend = inProcessEventSource(queue);
  let failures = 2;
  const controller = new AbortController();
  const seen: string[] = [];
  const running = runEventSource(
    {
      receive: (max, signal) =>
        failures-- > 0 ? Promise.reject(new Error('SQS down')) : backend.receive(max, signal),
      delete: (records) => backend.delete(records),
    },
    (event) => Promise.resolve(void seen.push(...bodies(event))),
    { signal: controller.signal },
  );

  await advance(2_000);
  controller.abort();
  await running;

  expect(seen).toEqual(['after the outage']);
});
