import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { EventSourceBackend } from './event-source';

/** Real SQS (or moto) as an event source backend: 1 s long polls, batch deletes. */
export function sqsEventSource(sqs: SQSClient, queueUrl: string): EventSourceBackend {
  return {
    receive: async (max, signal) => {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      return (received.Messages ?? []).map((m) => record(m, queueUrl));
    },
    delete: async (records) => {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
        }),
      );
    },
  };
}

/** A received SQS message as the record Lambda hands a function. */
function record(m: Message, queueUrl: string): SQSRecord {
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
      SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
      SenderId: m.Attributes?.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          stringValue: value.StringValue,
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType ?? 'String',
        },
      ]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueUrl,
    awsRegion: 'local',
  };
}

/** Creates a queue (idempotent in SQS for identical attributes) with an optional redrive to a DLQ. */
export async function ensureSqsQueue(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds: number; deadLetterQueueUrl?: string; maxReceiveCount?: number },
): Promise<string> {
  const attributes: Record<string, string> = { VisibilityTimeout: String(options.visibilityTimeoutSeconds) };
  if (options.deadLetterQueueUrl !== undefined) {
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: options.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
    );
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlq.Attributes?.QueueArn,
      maxReceiveCount: options.maxReceiveCount ?? 5,
    });
  }
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (created.QueueUrl === undefined) throw new Error(`SQS gave no URL for queue ${name}`);
  return created.QueueUrl;
}
