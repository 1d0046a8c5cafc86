import { SendMessageCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SqsError, SqsQueue } from './sqs-queue';

const sqs = mockClient(SQSClient);
const standardUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/work';

const throttled = (): SQSServiceException =>
  new SQSServiceException({
    name: 'ThrottlingException',
    message: 'Rate exceeded',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
  });

beforeEach(() => {
  sqs.reset();
});

describe('send', () => {
  test('sends string attributes and the delay', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    const queue = new SqsQueue({ queueUrl: standardUrl, client: { region: 'us-east-1' } });

    await expect(
      queue.send({
        body: '{"type":"peering.requested"}',
        attributes: { 'event-type': 'peering.requested' },
        delaySeconds: 5,
      }),
    ).resolves.toEqual({ messageId: 'm-1' });
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: standardUrl,
      MessageBody: '{"type":"peering.requested"}',
      MessageAttributes: { 'event-type': { DataType: 'String', StringValue: 'peering.requested' } },
      DelaySeconds: 5,
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
