import { createHash } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { ValidationError } from '#commons/errors';
import { InProcessQueue, type DeadLetteredMessage, type SqsBatchHandler } from './in-process-queue';

// Jest's modern fake timers move Date and the timers together, so the default system clock and the
// long polls stay in step and every test is deterministic.
beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});

afterEach(() => {
  jest.useRealTimers();
});

const advance = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);

describe('visibility and redelivery', () => {
  test('a received message is hidden for the visibility timeout, then delivered again', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    const { messageId } = await queue.send({
      body: 'hello',
      attributes: { 'event-type': 'cluster.registered' },
    });

    const [first] = await queue.receive();
    expect(first).toMatchObject({
      messageId,
      body: 'hello',
      attributes: { 'event-type': 'cluster.registered' },
      receiveCount: 1,
    });
    expect(await queue.receive()).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });

    await advance(29_999);
    expect(await queue.receive()).toEqual([]);
    await advance(1);
    const [second] = await queue.receive();
    expect(second).toMatchObject({ messageId, receiveCount: 2 });
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    expect(second?.firstReceivedAt).toEqual(first?.firstReceivedAt);
  });

  test('a deleted message is not delivered again; a stale receipt handle deletes nothing', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 10 });
    await queue.send({ body: 'a' });
    const [first] = await queue.receive();
    await advance(10_000);
    const [second] = await queue.receive();

    expect(queue.delete(first?.receiptHandle ?? '')).toBe(false);
    expect(queue.delete(second?.receiptHandle ?? '')).toBe(true);
    await advance(60_000);
    expect(await queue.receive()).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('changeVisibility extends or ends the hiding of an in-flight message only', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.send({ body: 'a' });
    const [message] = await queue.receive();
    const handle = message?.receiptHandle ?? '';

    expect(queue.changeVisibility(handle, 120)).toBe(true);
    await advance(60_000);
    expect(await queue.receive()).toEqual([]);

    expect(queue.changeVisibility(handle, 0)).toBe(true);
    const [again] = await queue.receive();
    expect(again?.receiveCount).toBe(2);
    expect(queue.changeVisibility(handle, 10)).toBe(false); // superseded by the new receipt
    expect(() => queue.changeVisibility(again?.receiptHandle ?? '', 43_201)).toThrow(ValidationError);
  });

  test('receives in send order, at most max at a time', async () => {
    const queue = new InProcessQueue();
    await queue.sendBatch(Array.from({ length: 12 }, (_, i) => ({ body: `m${i}` })));

    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['m10', 'm11']);
    await expect(queue.receive({ max: 11 })).rejects.toThrow(ValidationError);
  });
});

describe('delays', () => {
  test('a per-message delay hides a new message until it passes', async () => {
    const queue = new InProcessQueue();
    await queue.send({ body: 'later', delaySeconds: 5 });
    await queue.send({ body: 'now' });

    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['now']);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 1, delayed: 1 });
    await advance(5_000);
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['later']);
  });

  test('the queue-level delay applies when a message names none', async () => {
    const queue = new InProcessQueue({ delaySeconds: 2 });
    await queue.send({ body: 'queue delay' });
    await queue.send({ body: 'own delay', delaySeconds: 0 });

    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['own delay']);
    await advance(2_000);
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['queue delay']);
  });

  test('rejects delays SQS rejects', async () => {
    const queue = new InProcessQueue();
    await expect(queue.send({ body: 'x', delaySeconds: 901 })).rejects.toThrow(ValidationError);
    await expect(queue.send({ body: 'x', delaySeconds: 1.5 })).rejects.toThrow(ValidationError);
  });
});

describe('long polling', () => {
  test('waits for a message sent during the wait', async () => {
    const queue = new InProcessQueue();
    const receiving = queue.receive({ waitMs: 20_000 });
    await advance(3_000);
    await queue.send({ body: 'arrived' });

    expect((await receiving).map((m) => m.body)).toEqual(['arrived']);
  });

  test('wakes when a delayed message becomes visible', async () => {
    const queue = new InProcessQueue();
    await queue.send({ body: 'delayed', delaySeconds: 4 });
    const receiving = queue.receive({ waitMs: 20_000 });
    let done = false;
    void receiving.then(() => (done = true));

    await advance(3_999);
    expect(done).toBe(false);
    await advance(1);
    expect((await receiving).map((m) => m.body)).toEqual(['delayed']);
  });

  test('returns nothing when the wait ends, or when aborted', async () => {
    const queue = new InProcessQueue();
    const waiting = queue.receive({ waitMs: 1_000 });
    await advance(1_000);
    await expect(waiting).resolves.toEqual([]);

    const controller = new AbortController();
    const aborted = queue.receive({ waitMs: 20_000, signal: controller.signal });
    controller.abort();
    await expect(aborted).resolves.toEqual([]);
  });
});

describe('dead-letter queue', () => {
  test('moves a message to the DLQ queue on the receive after maxReceiveCount', async () => {
    const dlq = new InProcessQueue({ name: 'work-dlq' });
    const queue = new InProcessQueue({
      visibilityTimeoutSeconds: 1,
      deadLetter: { target: dlq, maxReceiveCount: 3 },
    });
    const { messageId } = await queue.send({ body: 'poison', attributes: { kind: 'bad' } });

    for (let count = 1; count <= 3; count++) {
      expect((await queue.receive()).map((m) => m.receiveCount)).toEqual([count]);
      await advance(1_000);
    }
    expect(await queue.receive()).toEqual([]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const [dead] = await dlq.receive();
    expect(dead).toMatchObject({ messageId, body: 'poison', attributes: { kind: 'bad' }, receiveCount: 1 });
  });

  test('can collect dead letters in a list', async () => {
    const dead: DeadLetteredMessage[] = [];
    const queue = new InProcessQueue({
      visibilityTimeoutSeconds: 1,
      deadLetter: { target: dead, maxReceiveCount: 1 },
    });
    await queue.send({ body: 'poison' });
    await queue.send({ body: 'fine' });

    const [poison] = await queue.receive();
    await advance(1_000);
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['fine']);
    expect(dead).toEqual([
      expect.objectContaining({ messageId: poison?.messageId, body: 'poison', receiveCount: 1 }),
    ]);
  });

  test('refuses a maxReceiveCount SQS would refuse', () => {
    expect(() => new InProcessQueue({ deadLetter: { target: [], maxReceiveCount: 0 } })).toThrow(
      ValidationError,
    );
  });
});

describe('FIFO', () => {
  const fifo = (): InProcessQueue => new InProcessQueue({ name: 'work.fifo', visibilityTimeoutSeconds: 30 });

  test('delivers a group in order and holds it back while a message of it is in flight', async () => {
    const queue = fifo();
    await queue.send({ body: 'a1', groupId: 'a', deduplicationId: 'a1' });
    await queue.send({ body: 'b1', groupId: 'b', deduplicationId: 'b1' });
    await queue.send({ body: 'a2', groupId: 'a', deduplicationId: 'a2' });

    const [a1] = await queue.receive();
    expect(a1).toMatchObject({ body: 'a1', groupId: 'a', deduplicationId: 'a1' });
    expect(a1?.sequenceNumber).toMatch(/^\d{20}$/);
    // a2 waits behind a1; group b is free.
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['b1']);
    queue.delete(a1?.receiptHandle ?? '');
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['a2']);
  });

  test('a group whose head failed gets the same head again, not the next message', async () => {
    const queue = fifo();
    await queue.sendBatch([
      { body: 'first', groupId: 'g', deduplicationId: '1' },
      { body: 'second', groupId: 'g', deduplicationId: '2' },
    ]);
    expect((await queue.receive()).map((m) => m.body)).toEqual(['first']);
    await advance(30_000);
    expect((await queue.receive()).map((m) => [m.body, m.receiveCount])).toEqual([['first', 2]]);
  });

  test('drops a repeat within five minutes, keeping the original id', async () => {
    const queue = fifo();
    const original = await queue.send({ body: 'x', groupId: 'g', deduplicationId: 'event-1' });
    const repeat = await queue.send({ body: 'x again', groupId: 'g', deduplicationId: 'event-1' });
    expect(repeat).toEqual(original);

    await advance(5 * 60_000);
    const later = await queue.send({ body: 'x later', groupId: 'g', deduplicationId: 'event-1' });
    expect(later.messageId).not.toBe(original.messageId);
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['x', 'x later']);
  });

  test('content-based deduplication hashes the body', async () => {
    const queue = new InProcessQueue({ name: 'work.fifo', contentBasedDeduplication: true });
    await queue.send({ body: 'same', groupId: 'g' });
    await queue.send({ body: 'same', groupId: 'g' });
    const [message] = await queue.receive({ max: 10 });
    expect(message?.deduplicationId).toBe(createHash('sha256').update('same').digest('hex'));
    expect(queue.stats().inFlight).toBe(1);
  });

  test('ignores per-message delays and requires a group and a deduplication id', async () => {
    const queue = fifo();
    await queue.send({ body: 'x', groupId: 'g', deduplicationId: '1', delaySeconds: 60 });
    expect(await queue.receive()).toHaveLength(1);
    await expect(queue.send({ body: 'x', deduplicationId: '2' })).rejects.toThrow(/needs a groupId/);
    await expect(queue.send({ body: 'x', groupId: 'g' })).rejects.toThrow(/needs a deduplicationId/);
  });
});

describe('Lambda-style consumption', () => {
  const ids = (event: SQSEvent): string[] => event.Records.map((record) => record.messageId);

  test('hands SQS-shaped records to the handler', async () => {
    const queue = new InProcessQueue({ name: 'work.fifo' });
    await queue.send({
      body: '{"a":1}',
      attributes: { 'event-type': 'x' },
      groupId: 'g',
      deduplicationId: 'd',
    });
    const { messageId } = await queue.send({ body: 'second', groupId: 'g', deduplicationId: 'e' });
    let event: SQSEvent | undefined;

    await queue.processBatch((received) => {
      event = received;
      return Promise.resolve();
    });
    expect(event?.Records).toHaveLength(2);
    const { receiptHandle, ...record } = event?.Records[0] ?? { receiptHandle: undefined };
    expect(receiptHandle).toMatch(/^[0-9a-f-]{36}$/);
    expect(event?.Records[1]?.messageId).toBe(messageId);
    expect(event?.Records[1]?.attributes.SequenceNumber).toBe('00000000000000000002');
    expect(record).toEqual({
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
      body: '{"a":1}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.parse('2026-01-01T00:00:00Z')),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.parse('2026-01-01T00:00:00Z')),
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd',
        SequenceNumber: '00000000000000000001',
      },
      messageAttributes: {
        'event-type': { stringValue: 'x', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
      md5OfBody: createHash('md5').update('{"a":1}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:work.fifo',
      awsRegion: 'local',
    });
  });

  test('a partial batch response deletes the rest and redelivers the listed records after the timeout', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.sendBatch([{ body: 'ok-1' }, { body: 'fail' }, { body: 'ok-2' }]);
    const handler: SqsBatchHandler = (event) =>
      Promise.resolve({
        batchItemFailures: event.Records.filter((r) => r.body === 'fail').map((r) => ({
          itemIdentifier: r.messageId,
        })),
      });

    await expect(queue.processBatch(handler)).resolves.toEqual({ received: 3, deleted: 2, failed: 1 });
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 1, delayed: 0 });

    await advance(30_000);
    const seen: SQSEvent[] = [];
    await queue.drain((event) => {
      seen.push(event);
      return Promise.resolve({ batchItemFailures: [] });
    });
    expect(
      seen.map((event) => event.Records.map((r) => [r.body, r.attributes.ApproximateReceiveCount])),
    ).toEqual([[['fail', '2']]]);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  test('a thrown error fails the whole batch', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.sendBatch([{ body: 'a' }, { body: 'b' }]);

    await expect(queue.processBatch(() => Promise.reject(new Error('boom')))).resolves.toEqual({
      received: 2,
      deleted: 0,
      failed: 2,
    });
    await advance(30_000);
    expect(await queue.receive({ max: 10 })).toHaveLength(2);
  });

  test('an unknown or empty itemIdentifier fails the whole batch, as in Lambda', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.sendBatch([{ body: 'a' }, { body: 'b' }]);

    const outcome = await queue.processBatch(() =>
      Promise.resolve({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }),
    );
    expect(outcome).toEqual({ received: 2, deleted: 0, failed: 2 });

    await advance(30_000);
    await queue.processBatch(() => Promise.resolve({ batchItemFailures: [{ itemIdentifier: '' }] }));
    expect(queue.stats().inFlight).toBe(2);
  });

  test('drain stops when nothing is receivable, leaving failed records for later', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.sendBatch(Array.from({ length: 25 }, (_, i) => ({ body: `m${i}` })));
    const sizes: number[] = [];

    const outcome = await queue.drain((event) => {
      sizes.push(event.Records.length);
      return Promise.resolve({ batchItemFailures: [{ itemIdentifier: ids(event)[0] ?? '' }] });
    });
    expect(sizes).toEqual([10, 10, 5]);
    expect(outcome).toEqual({ received: 25, deleted: 22, failed: 3 });
  });

  test('with a DLQ, a record that always fails ends there after maxReceiveCount invocations', async () => {
    const dead: DeadLetteredMessage[] = [];
    const queue = new InProcessQueue({
      visibilityTimeoutSeconds: 30,
      deadLetter: { target: dead, maxReceiveCount: 2 },
    });
    await queue.send({ body: 'poison' });
    const failAll: SqsBatchHandler = (event) =>
      Promise.resolve({ batchItemFailures: ids(event).map((itemIdentifier) => ({ itemIdentifier })) });

    await queue.drain(failAll);
    await advance(30_000);
    await queue.drain(failAll);
    await advance(30_000);
    await expect(queue.drain(failAll)).resolves.toEqual({ received: 0, deleted: 0, failed: 0 });
    expect(dead.map((message) => [message.body, message.receiveCount])).toEqual([['poison', 2]]);
  });

  test('poll invokes the handler as messages arrive until aborted', async () => {
    const queue = new InProcessQueue();
    const controller = new AbortController();
    const bodies: string[] = [];
    const polling = queue.poll(
      (event) => {
        bodies.push(...event.Records.map((r) => r.body));
        return Promise.resolve();
      },
      { signal: controller.signal, waitMs: 20_000 },
    );

    await queue.send({ body: 'one' });
    await advance(0);
    await advance(25_000); // an empty long poll in between
    await queue.send({ body: 'two' });
    await advance(0);
    controller.abort();
    await polling;

    expect(bodies).toEqual(['one', 'two']);
    expect(queue.stats()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });
});

describe('send validation', () => {
  test('rejects what SQS rejects, and a bad batch sends nothing', async () => {
    const queue = new InProcessQueue();
    await expect(queue.send({ body: '' })).rejects.toThrow(ValidationError);
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v']));
    await expect(queue.send({ body: 'x', attributes: eleven })).rejects.toThrow(/at most 10 attributes/);
    await expect(queue.sendBatch([{ body: 'ok' }, { body: '' }])).rejects.toThrow(ValidationError);
    expect(queue.stats().visible).toBe(0);
  });
});
