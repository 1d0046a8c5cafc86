import { createHash } from 'node:crypto';
import { ValidationError } from '#commons/errors';
import { InProcessQueue } from './in-process-queue';

// Jest's modern fake timers move Date and the timers together, so the default system clock and the
// long polls stay in step and every test is deterministic.
beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
});

afterEach(() => {
  jest.useRealTimers();
});

const advance = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);
const receiveCount = (record: { attributes: { ApproximateReceiveCount: string } } | undefined) =>
  Number(record?.attributes.ApproximateReceiveCount);
const sendAll = async (queue: InProcessQueue, bodies: string[]) => {
  for (const body of bodies) await queue.send({ body });
};

describe('visibility and redelivery', () => {
  test('a received message is hidden for the visibility timeout, then delivered again', async () => {
    const queue = new InProcessQueue({ name: 'work', visibilityTimeoutSeconds: 30 });
    const { messageId } = await queue.send({
      body: '{"a":1}',
      attributes: { 'event-type': 'cluster.registered' },
    });

    const [first] = await queue.receive();
    const { receiptHandle, ...record } = first ?? { receiptHandle: undefined };
    expect(receiptHandle).toMatch(/^[0-9a-f-]{36}$/);
    expect(record).toEqual({
      messageId,
      body: '{"a":1}',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.parse('2026-01-01T00:00:00Z')),
        SenderId: 'local',
        ApproximateFirstReceiveTimestamp: String(Date.parse('2026-01-01T00:00:00Z')),
      },
      messageAttributes: {
        'event-type': {
          stringValue: 'cluster.registered',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
      },
      md5OfBody: createHash('md5').update('{"a":1}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:local:000000000000:work',
      awsRegion: 'local',
    });
    expect(await queue.receive()).toEqual([]);

    await advance(29_999);
    expect(await queue.receive()).toEqual([]);
    await advance(1);
    const [second] = await queue.receive();
    expect(second).toMatchObject({ messageId });
    expect(receiveCount(second)).toBe(2);
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    expect(second?.attributes.ApproximateFirstReceiveTimestamp).toBe(
      first?.attributes.ApproximateFirstReceiveTimestamp,
    );
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
  });

  test('retryAfter brings an in-flight message back after the given seconds, not the visibility timeout', async () => {
    const queue = new InProcessQueue({ visibilityTimeoutSeconds: 30 });
    await queue.send({ body: 'a' });
    const [message] = await queue.receive();
    const handle = message?.receiptHandle ?? '';

    await queue.retryAfter(handle, 2);
    await advance(1_999);
    expect(await queue.receive()).toEqual([]);
    await advance(1);
    const [again] = await queue.receive();
    expect(receiveCount(again)).toBe(2);

    await queue.retryAfter(handle, 0); // superseded by the new receipt: nothing happens
    expect(await queue.receive()).toEqual([]);
    await expect(queue.retryAfter(again?.receiptHandle ?? '', 43_201)).rejects.toThrow(ValidationError);
  });

  test('receives in send order, at most max at a time', async () => {
    const queue = new InProcessQueue();
    await sendAll(
      queue,
      Array.from({ length: 12 }, (_, i) => `m${i}`),
    );

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
    await advance(4_999);
    expect(await queue.receive({ max: 10 })).toEqual([]);
    await advance(1);
    expect((await queue.receive({ max: 10 })).map((m) => m.body)).toEqual(['later']);
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
      expect((await queue.receive()).map(receiveCount)).toEqual([count]);
      await advance(1_000);
    }
    expect(await queue.receive()).toEqual([]);
    const [dead] = await dlq.receive();
    expect(dead).toMatchObject({
      messageId,
      body: 'poison',
      messageAttributes: { kind: { stringValue: 'bad' } },
      attributes: { ApproximateReceiveCount: '1' },
    });
  });

  test('refuses a maxReceiveCount SQS would refuse', () => {
    const dlq = new InProcessQueue();
    expect(() => new InProcessQueue({ deadLetter: { target: dlq, maxReceiveCount: 0 } })).toThrow(
      ValidationError,
    );
  });
});

describe('send validation', () => {
  test('rejects what SQS rejects', async () => {
    const queue = new InProcessQueue();
    await expect(queue.send({ body: '' })).rejects.toThrow(ValidationError);
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v']));
    await expect(queue.send({ body: 'x', attributes: eleven })).rejects.toThrow(/at most 10 attributes/);
    expect(await queue.receive()).toEqual([]);
  });
});
