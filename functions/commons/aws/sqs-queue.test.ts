import {
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsBatchSendError, SqsError, SqsQueue } from './sqs-queue';

const sqs = mockClient(SQSClient);
const standardUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/work';
const fifoUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/work.fifo';

const throttled = (): SQSServiceException =>
  new SQSServiceException({
    name: 'ThrottlingException',
    message: 'Rate exceeded',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });

/** Accepts every entry, with message ids derived from the bodies. */
const acceptAll = (input: SendMessageBatchCommandInput): SendMessageBatchCommandOutput => ({
  Successful: (input.Entries ?? []).map((entry) => ({
    Id: entry.Id,
    MessageId: `id-${entry.MessageBody}`,
    MD5OfMessageBody: '',
  })),
  Failed: [],
  $metadata: {},
});

beforeEach(() => {
  sqs.reset();
});

describe('send', () => {
  test('sends string attributes, delay, group and deduplication id', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const queue = new SqsQueue({ queueUrl: standardUrl, client: { region: 'us-east-1' } });

    await expect(
      queue.send({
        body: '{"type":"peering.requested"}',
        attributes: { 'event-type': 'peering.requested' },
        delaySeconds: 5,
        groupId: 'dc1',
      }),
    ).resolves.toEqual({ messageId: 'm-1' });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: standardUrl,
      MessageBody: '{"type":"peering.requested"}',
      MessageAttributes: { 'event-type': { DataType: 'String', StringValue: 'peering.requested' } },
      DelaySeconds: 5,
      MessageGroupId: 'dc1',
    });
  });

  test('leaves the per-message delay out on a FIFO queue, where SQS rejects it', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const queue = new SqsQueue({ queueUrl: fifoUrl });
    expect(queue.fifo).toBe(true);

    await queue.send({ body: 'x', delaySeconds: 5, groupId: 'dc1', deduplicationId: 'e-1' });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: fifoUrl,
      MessageBody: 'x',
      MessageGroupId: 'dc1',
      MessageDeduplicationId: 'e-1',
    });
  });

  test('surfaces throttling as a retryable error naming the queue', async () => {
    sqs.on(SendMessageCommand).rejects(throttled());
    const error = (await new SqsQueue({ queueUrl: standardUrl })
      .send({ body: 'x' })
      .catch((e: unknown) => e)) as SqsError;

    expect(error).toBeInstanceOf(SqsError);
    expect(error.retryable).toBe(true);
    expect(error.reason).toBe('sqs.ThrottlingException');
    expect(error.message).toBe(
      `SQS SendMessage to ${standardUrl} failed: ThrottlingException: Rate exceeded`,
    );
  });

  test('reports a missing queue as permanent', async () => {
    sqs.on(SendMessageCommand).rejects(
      new SQSServiceException({
        name: 'QueueDoesNotExist',
        message: 'The specified queue does not exist.',
        $fault: 'client',
        $metadata: {},
      }),
    );
    await expect(new SqsQueue({ queueUrl: standardUrl }).send({ body: 'x' })).rejects.toMatchObject({
      retryable: false,
      reason: 'sqs.QueueDoesNotExist',
    });
  });
});

describe('sendBatch', () => {
  const messages = (count: number) => Array.from({ length: count }, (_, i) => ({ body: `m${i}` }));

  test('splits 25 messages into batches of 10, 10 and 5 and returns ids in input order', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(acceptAll);
    const sent = await new SqsQueue({ queueUrl: standardUrl }).sendBatch(messages(25));

    expect(sent).toEqual(messages(25).map(({ body }) => ({ messageId: `id-${body}` })));
    const calls = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries ?? []);
    expect(calls.map((entries) => entries.length)).toEqual([10, 10, 5]);
    expect(calls[2]?.map((entry) => entry.MessageBody)).toEqual(['m20', 'm21', 'm22', 'm23', 'm24']);
  });

  test('sends nothing for an empty list', async () => {
    await expect(new SqsQueue({ queueUrl: standardUrl }).sendBatch([])).resolves.toEqual([]);
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  test('starts a new batch before the request would grow past 256 KiB', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(acceptAll);
    const big = 'x'.repeat(100 * 1024);
    await new SqsQueue({ queueUrl: standardUrl }).sendBatch([{ body: big }, { body: big }, { body: big }]);

    const sizes = sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([2, 1]);
  });

  test('retries entries that failed on the SQS side once, and succeeds', async () => {
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'id-m0', MD5OfMessageBody: '' }],
        Failed: [{ Id: '1', Code: 'InternalError', Message: 'try again', SenderFault: false }],
      })
      .callsFake(acceptAll);

    await expect(new SqsQueue({ queueUrl: standardUrl }).sendBatch(messages(2))).resolves.toEqual([
      { messageId: 'id-m0' },
      { messageId: 'id-m1' },
    ]);
    const retried = sqs.commandCalls(SendMessageBatchCommand)[1]?.args[0].input.Entries;
    expect(retried).toEqual([{ Id: '1', MessageBody: 'm1' }]);
  });

  test('names the entries still failing after the retry, and keeps what was sent', async () => {
    sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
      Successful: (input.Entries ?? [])
        .filter((entry) => entry.Id !== '12')
        .map((entry) => ({ Id: entry.Id, MessageId: `id-${entry.MessageBody}`, MD5OfMessageBody: '' })),
      Failed: (input.Entries ?? [])
        .filter((entry) => entry.Id === '12')
        .map((entry) => ({ Id: entry.Id, Code: 'ServiceUnavailable', Message: 'busy', SenderFault: false })),
    }));

    const error = (await new SqsQueue({ queueUrl: standardUrl })
      .sendBatch(messages(15))
      .catch((e: unknown) => e)) as SqsBatchSendError;

    expect(error).toBeInstanceOf(SqsBatchSendError);
    expect(error.message).toBe(
      `SQS SendMessageBatch to ${standardUrl}: 1 of 15 messages failed: #12 ServiceUnavailable: busy`,
    );
    expect(error.failed).toEqual([
      { index: 12, code: 'ServiceUnavailable', message: 'busy', senderFault: false },
    ]);
    expect(error.retryable).toBe(true);
    expect(error.sent[11]).toEqual({ messageId: 'id-m11' });
    expect(error.sent[12]).toBeUndefined();
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(3); // 10, 5, then entry 12 once more
  });

  test('does not retry sender faults (also when sent as the string "true", as moto does)', async () => {
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [{ Id: '0', MessageId: 'id-m0', MD5OfMessageBody: '' }],
      Failed: [
        { Id: '1', Code: 'InvalidParameterValue', Message: 'bad delay', SenderFault: true },
        {
          Id: '2',
          Code: 'InvalidParameterValue',
          Message: 'bad body',
          SenderFault: 'true' as unknown as boolean,
        },
      ],
    });

    const error = (await new SqsQueue({ queueUrl: standardUrl })
      .sendBatch(messages(3))
      .catch((e: unknown) => e)) as SqsBatchSendError;
    expect(error.failed.map((entry) => [entry.index, entry.senderFault])).toEqual([
      [1, true],
      [2, true],
    ]);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('#1 InvalidParameterValue (sender fault): bad delay');
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });

  test('surfaces a throttled batch call, saying how many messages were already sent', async () => {
    sqs.on(SendMessageBatchCommand).callsFakeOnce(acceptAll).rejects(throttled());

    await expect(new SqsQueue({ queueUrl: standardUrl }).sendBatch(messages(25))).rejects.toMatchObject({
      retryable: true,
      reason: 'sqs.ThrottlingException',
      message: `SQS SendMessageBatch to ${standardUrl} failed: ThrottlingException: Rate exceeded (10 of 25 messages were already sent)`,
    });
  });
});

test('on a FIFO queue, a failed message stops the later messages of its group, not other groups', async () => {
  sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? [])
      .filter((entry) => entry.Id !== '3')
      .map((entry) => ({ Id: entry.Id, MessageId: `id-${entry.MessageBody}`, MD5OfMessageBody: '' })),
    Failed: (input.Entries ?? [])
      .filter((entry) => entry.Id === '3')
      .map((entry) => ({ Id: entry.Id, Code: 'InvalidParameterValue', Message: 'bad', SenderFault: true })),
  }));
  const messages = Array.from({ length: 14 }, (_, i) => ({
    body: `m${i}`,
    groupId: i % 2 === 0 ? 'even' : 'odd',
    deduplicationId: `d${i}`,
  }));

  const error = (await new SqsQueue({ queueUrl: fifoUrl })
    .sendBatch(messages)
    .catch((e: unknown) => e)) as SqsBatchSendError;
  // m3 failed; m5..m9 were already in its batch, m11 and m13 are held back.
  expect(error.failed.map((entry) => [entry.index, entry.code])).toEqual([
    [3, 'InvalidParameterValue'],
    [11, 'NotSent'],
    [13, 'NotSent'],
  ]);
  expect(error.message).toContain('#11 NotSent: an earlier message of group odd failed');
  const second = sqs.commandCalls(SendMessageBatchCommand)[1]?.args[0].input.Entries ?? [];
  expect(second.map((entry) => entry.MessageBody)).toEqual(['m10', 'm12']);
});
