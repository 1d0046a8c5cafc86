import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSRecord } from 'aws-lambda';
import { NotReadyError, PermanentError } from '../errors';
import { createEvent } from '../events';
import type { OutgoingMessage, Queue } from '../ports/queue';
import { createQueueHandler } from './queue-handler';

const ref = (name: string) => ({ name, connectionSecret: `consul-peering/clusters/${name}` });
const NOW = Date.parse('2026-12-01T12:00:00Z');
const record = (id: string, body: string, { receiveCount = 1, ageSeconds = 0 } = {}): SQSRecord =>
  ({
    messageId: id,
    receiptHandle: `handle-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: String(NOW - ageSeconds * 1000),
    },
    messageAttributes: {},
  }) as unknown as SQSRecord;
const body = (cluster: string) =>
  JSON.stringify(
    createEvent('cluster.registered', { cluster: ref(cluster) }, { correlationId: `c-${cluster}` }),
  );

function setup(workflow: (cluster: string) => Promise<void>) {
  const deadLettered: OutgoingMessage[] = [];
  const deadLetters: Queue = {
    send: (message) => {
      deadLettered.push(message);
      return Promise.resolve({ messageId: 'dlq' });
    },
  };
  const retries: { receiptHandle: string; seconds: number }[] = [];
  const notices: string[] = [];
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const handler = createQueueHandler({
    eventTypes: ['cluster.registered'],
    workflow: (event) => workflow(event.data.cluster.name),
    deadLetters,
    source: {
      retryAfter: (receiptHandle, seconds) => {
        retries.push({ receiptHandle, seconds });
        return Promise.resolve();
      },
    },
    retry: { retryBaseSeconds: 1, retryCapSeconds: 30, retryBudgetSeconds: 120 },
    logger,
    clock: { now: () => new Date(NOW) },
    hooks: {
      onRetry: (n) =>
        notices.push(`retry ${n.reason} ${n.message} #${n.receiveCount} in ${n.retryInSeconds}`),
      onDeadLetter: (n) => notices.push(`dead ${n.reason} ${n.message}`),
    },
  });
  const invoke = (records: SQSRecord[]) => handler({ Records: records }, {} as Context);
  return { invoke, deadLettered, retries, notices };
}

test('one bad record never fails its batch: retryable ones are reported, permanent ones go to the DLQ', async () => {
  const { invoke, deadLettered } = setup((cluster) => {
    if (cluster === 'later') return Promise.reject(new NotReadyError('gateway not passing yet'));
    if (cluster === 'never')
      return Promise.reject(new PermanentError('name used the other way', 'name-conflict'));
    return Promise.resolve();
  });
  const response = await invoke([
    record('ok', body('fine')),
    record('retry', body('later')),
    record('perm', body('never')),
    record('junk', '{"type":'),
    record('other', body('fine2')),
  ]);
  expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'retry' }]);
  expect(deadLettered.map((m) => m.attributes?.reason)).toEqual(['name-conflict', 'validation']);
  expect(deadLettered[1]?.attributes?.error).toMatch(/not valid JSON/);
});

test('an event of another type is refused as bad input, without running the workflow', async () => {
  const workflow = jest.fn(() => Promise.resolve());
  const { invoke, deadLettered } = setup(workflow);
  const wrong = JSON.stringify(
    createEvent('peering.requested', { acceptor: ref('a'), dialer: ref('b') }, { correlationId: 'x' }),
  );
  const response = await invoke([record('wrong', wrong)]);
  expect(response.batchItemFailures).toEqual([]);
  expect(workflow).not.toHaveBeenCalled();
  expect(deadLettered[0]?.attributes?.reason).toBe('validation');
});

test('an unexpected error is retried (bounded by the queue maxReceiveCount), not dead-lettered at once', async () => {
  const { invoke, deadLettered } = setup(() => Promise.reject(new Error('socket hang up')));
  const response = await invoke([record('boom', body('x'))]);
  expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'boom' }]);
  expect(deadLettered).toEqual([]);
});

describe('retries come back after a backoff, not the visibility timeout', () => {
  const notReady = () => Promise.reject(new NotReadyError('cluster "x" has no passing mesh gateway yet'));

  test('the first retry is set about one second out, later ones double, capped', async () => {
    const { invoke, retries } = setup(notReady);
    await invoke([
      record('first', body('a'), { receiveCount: 1 }),
      record('third', body('b'), { receiveCount: 3 }),
      record('tenth', body('c'), { receiveCount: 10, ageSeconds: 10 }),
    ]);
    const seconds = Object.fromEntries(retries.map((r) => [r.receiptHandle, r.seconds]));
    expect(seconds['handle-first']).toBe(1);
    expect(seconds['handle-third']).toBeGreaterThanOrEqual(2);
    expect(seconds['handle-third']).toBeLessThanOrEqual(4);
    expect(seconds['handle-tenth']).toBeGreaterThanOrEqual(15);
    expect(seconds['handle-tenth']).toBeLessThanOrEqual(30);
  });

  test('once the budget is spent the record is dead-lettered with its reason and what was missing', async () => {
    const { invoke, retries, deadLettered } = setup(notReady);
    const response = await invoke([record('old', body('a'), { receiveCount: 9, ageSeconds: 119 })]);
    expect(response.batchItemFailures).toEqual([]);
    expect(retries).toEqual([]);
    expect(deadLettered[0]?.attributes?.reason).toBe('not-ready');
    expect(deadLettered[0]?.attributes?.error).toMatch(
      /^cluster "x" has no passing mesh gateway yet \(gave up after 9 deliveries over 119 s; the retry budget is 120 s\)$/,
    );
  });

  test('a failing visibility change still leaves the record to be retried', async () => {
    const deadLetters: Queue = {
      send: () => Promise.resolve({ messageId: 'dlq' }),
    };
    const handler = createQueueHandler({
      eventTypes: ['cluster.registered'],
      workflow: notReady,
      deadLetters,
      source: { retryAfter: () => Promise.reject(new Error('ReceiptHandleIsInvalid')) },
      retry: { retryBaseSeconds: 1, retryCapSeconds: 30, retryBudgetSeconds: 120 },
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      clock: { now: () => new Date(NOW) },
    });
    const response = await handler({ Records: [record('r', body('a'))] }, {} as Context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'r' }]);
  });
});

test('watchers are told of each retry and dead letter as typed notices, with secrets scrubbed', async () => {
  const token = '6f2c1a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b';
  const { invoke, notices } = setup((cluster) =>
    cluster === 'later'
      ? Promise.reject(new NotReadyError('gateway not passing yet'))
      : Promise.reject(new PermanentError(`refused token ${token}`, 'name-conflict')),
  );
  await invoke([record('retry', body('later'), { receiveCount: 3 }), record('perm', body('never'))]);

  expect(notices).toHaveLength(2);
  expect(notices[0]).toMatch(/^retry not-ready gateway not passing yet #3 in \d+$/);
  expect(notices[1]).toMatch(/^dead name-conflict refused token /);
  expect(notices.join('\n')).not.toContain(token);
});
