import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSRecord } from 'aws-lambda';
import { NotReadyError, PermanentError } from '../errors';
import { createEvent } from '../events';
import type { OutgoingMessage, Queue } from '../ports/queue';
import { createQueueHandler } from './queue-handler';

const ref = (name: string) => ({ name, connectionSecret: `consul-peering/clusters/${name}` });
const record = (id: string, body: string): SQSRecord =>
  ({
    messageId: id,
    receiptHandle: id,
    body,
    attributes: { ApproximateReceiveCount: '1' },
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
    sendBatch: () => Promise.reject(new Error('unused')),
  };
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const handler = createQueueHandler({
    eventTypes: ['cluster.registered'],
    workflow: (event) => workflow(event.data.cluster.name),
    deadLetters,
    logger,
  });
  const invoke = (records: SQSRecord[]) => handler({ Records: records }, {} as Context);
  return { invoke, deadLettered };
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
