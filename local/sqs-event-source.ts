import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { SqsBatchHandler } from '#commons/local/in-process-queue';

/**
 * What Lambda's SQS event source mapping does, for running the handlers against real SQS from a
 * laptop or a test: long-poll, hand the batch over as an SQS event, delete what did not fail.
 * Failed records become visible again after the queue's visibility timeout, as in Lambda.
 */
export async function pollSqs(
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsBatchHandler,
  { signal, waitSeconds = 1, max = 10 }: { signal: AbortSignal; waitSeconds?: number; max?: number },
): Promise<void> {
  while (!signal.aborted) {
    let received;
    try {
      received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: waitSeconds,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') return;
      // Lambda's event source mapping keeps polling through SQS errors (after the SDK's own retries
      // ran out): so does this one, after a pause, instead of ending the consumer for good.
      await pause(POLL_ERROR_PAUSE_MS, signal);
      continue;
    }
    const messages = received.Messages ?? [];
    if (messages.length === 0) continue;
    const records: SQSRecord[] = messages.map((m) => ({
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
    }));
    let failed = new Set(records.map((r) => r.messageId));
    try {
      const response = await handler({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch {
      // a thrown handler fails the whole batch, as in Lambda
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      // A delete that fails leaves the messages to come back after the visibility timeout: at-least-once
      // delivery, which every handler already tolerates (as with Lambda).
      await sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        )
        .catch(() => undefined);
    }
  }
}

const POLL_ERROR_PAUSE_MS = 1_000;

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
