import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { InvokeResult, LambdaEmulator } from './lambda-emulator';

export interface Delivery {
  functionName: string;
  messageIds: string[];
  /** Ids deleted after the invocation (the records that did not fail). */
  deleted: string[];
  /** Why the rest stayed on the queue, when some did. */
  failure: string | undefined;
}

export interface SqsEventSourceMappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  batchSize: number;
  reportBatchItemFailures: boolean;
  /** One per concurrent invocation: their number is the mapping's maximum concurrency. */
  environments: LambdaEmulator[];
  onDelivery: (delivery: Delivery) => void;
  signal: AbortSignal;
}

/**
 * What Lambda's SQS event source mapping does with a standard queue, against a real SQS (moto):
 * one poller per allowed concurrent invocation long-polls up to `batchSize` records, invokes the
 * function with them as an SQS event, then deletes what succeeded. Nothing else touches a record: a
 * failed one becomes visible again when its visibility timeout ends, and SQS itself moves it to the
 * dead-letter queue after maxReceiveCount receives.
 * - the function threw, timed out or failed to initialize: the whole batch stays;
 * - ReportBatchItemFailures: the listed records stay. A response Lambda cannot read (an
 *   itemIdentifier that is empty or not in the batch) fails the whole batch, as in Lambda;
 * - otherwise a successful invocation deletes the whole batch.
 */
export function startSqsEventSourceMapping(options: SqsEventSourceMappingOptions): Promise<void> {
  return Promise.all(options.environments.map((environment) => poll(environment, options))).then(
    () => undefined,
  );
}

async function poll(environment: LambdaEmulator, options: SqsEventSourceMappingOptions): Promise<void> {
  const { sqs, queueUrl, signal } = options;
  // A function, not the property: TypeScript would narrow `signal.aborted` across the awaits below.
  const stopped = (): boolean => signal.aborted;
  while (!stopped()) {
    let messages: Message[];
    try {
      const received = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(options.batchSize, 10),
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      messages = received.Messages ?? [];
    } catch (error) {
      if (stopped()) return;
      throw error;
    }
    if (messages.length === 0) continue;
    const records = messages.map((message) => toRecord(message, options));
    let result: InvokeResult | undefined;
    let invokeError: string | undefined;
    try {
      result = await environment.invoke({ Records: records });
    } catch (error) {
      invokeError = error instanceof Error ? error.message : String(error);
    }
    const ids = records.map((record) => record.messageId);
    const { keep, failure } = decide(ids, result, invokeError, options.reportBatchItemFailures);
    const done = records.filter((record) => !keep.has(record.messageId));
    if (done.length > 0 && !stopped()) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
    }
    options.onDelivery({
      functionName: environment.fn.functionName,
      messageIds: ids,
      deleted: done.map((record) => record.messageId),
      failure,
    });
  }
}

/** Which records of a delivered batch stay on the queue, and why (Lambda's rules, above). */
export function decide(
  ids: string[],
  result: InvokeResult | undefined,
  invokeError: string | undefined,
  reportBatchItemFailures: boolean,
): { keep: Set<string>; failure: string | undefined } {
  const all = { keep: new Set(ids) };
  if (result === undefined) return { ...all, failure: `invoke failed: ${String(invokeError)}` };
  if (result.error !== undefined)
    return { ...all, failure: `${result.error.errorType}: ${result.error.errorMessage}` };
  if (!reportBatchItemFailures) return { keep: new Set(), failure: undefined };
  const response = result.payload as Partial<SQSBatchResponse> | null | undefined;
  const failures = response?.batchItemFailures ?? [];
  if (!Array.isArray(failures)) return { ...all, failure: 'batchItemFailures is not a list' };
  const listed = failures.map((failure) => (failure as { itemIdentifier?: unknown }).itemIdentifier);
  if (listed.some((id) => typeof id !== 'string' || !ids.includes(id)))
    return { ...all, failure: `unreadable batchItemFailures ${JSON.stringify(failures)}` };
  return {
    keep: new Set(listed as string[]),
    failure: listed.length === 0 ? undefined : `batchItemFailures: ${listed.join(', ')}`,
  };
}

/** The record Lambda builds from an SQS message (the SQS event's documented shape). */
function toRecord(message: Message, options: SqsEventSourceMappingOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '0',
      SenderId: attributes.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
          stringListValues: [],
          binaryListValues: [],
          dataType: value.DataType ?? 'String',
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}
