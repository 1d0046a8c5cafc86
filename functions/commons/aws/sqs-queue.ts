import {
  ChangeMessageVisibilityCommand,
  SendMessageCommand,
  SQSClient,
  type MessageAttributeValue,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { AutomationError } from '#commons/errors';
import type { OutgoingMessage, Queue, SentMessage, SourceQueue } from '#commons/ports/queue';
import { isRetryableAwsError } from './sdk-errors';

export interface SqsQueueOptions {
  queueUrl: string;
  /** An SDK client to share, or the config to build one (endpoint, region, credentials). */
  client?: SQSClient | SQSClientConfig;
}

/** An SQS call that failed, named by operation and queue; `retryable` follows the SDK's classification. */
export class SqsError extends AutomationError {
  readonly retryable: boolean;
  readonly reason: string;

  constructor(
    readonly operation: string,
    readonly queueUrl: string,
    readonly code: string,
    message: string,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.retryable = retryable;
    this.reason = `sqs.${code}`;
  }
}

export class SqsQueue implements Queue, SourceQueue {
  readonly queueUrl: string;
  private readonly client: SQSClient;

  constructor(options: SqsQueueOptions) {
    this.queueUrl = options.queueUrl;
    const client = options.client ?? {};
    this.client = client instanceof SQSClient ? client : new SQSClient(client);
  }

  async send(message: OutgoingMessage): Promise<SentMessage> {
    try {
      const result = await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, ...this.fields(message) }),
      );
      return { messageId: this.required(result.MessageId, 'SendMessage') };
    } catch (error) {
      throw this.wrap(error, 'SendMessage');
    }
  }

  async retryAfter(receiptHandle: string, seconds: number): Promise<void> {
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    } catch (error) {
      throw this.wrap(error, 'ChangeMessageVisibility');
    }
  }

  private fields(message: OutgoingMessage) {
    return {
      MessageBody: message.body,
      MessageAttributes: message.attributes && stringAttributes(message.attributes),
      DelaySeconds: message.delaySeconds,
    };
  }

  private required(value: string | undefined, operation: string): string {
    if (value === undefined) {
      throw new SqsError(
        operation,
        this.queueUrl,
        'MalformedResponse',
        `SQS ${operation} returned no MessageId`,
        true,
      );
    }
    return value;
  }

  private wrap(error: unknown, operation: string): SqsError | AutomationError {
    if (error instanceof AutomationError) return error;
    const code = error instanceof Error ? error.name : 'UnknownError';
    const detail = error instanceof Error ? error.message : String(error);
    const retryable = isRetryableAwsError(error);
    return new SqsError(
      operation,
      this.queueUrl,
      code,
      `SQS ${operation} to ${this.queueUrl} failed: ${code}: ${detail}`,
      retryable,
      {
        cause: error,
      },
    );
  }
}

function stringAttributes(attributes: Record<string, string>): Record<string, MessageAttributeValue> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
  );
}
