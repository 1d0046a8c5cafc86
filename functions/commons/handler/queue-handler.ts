import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { AutomationError, isRetryable, ValidationError } from '../errors';
import { parseEvent, parseEventOfType, type EventOf, type EventType as PipelineEventType } from '../events';
import { redactText } from '../observability/redact';
import type { Clock } from '../ports/clock';
import { systemClock } from '../ports/clock';
import type { Queue, SourceQueue } from '../ports/queue';
import { backoffSeconds, type BackoffPolicy } from '../retry-backoff';

export interface QueueHandlerOptions<T extends PipelineEventType> {
  /** The event types this function consumes; any other is bad input (dead-lettered, workflow not run). */
  eventTypes: readonly [T, ...T[]];
  workflow: (event: EventOf<T>) => Promise<unknown>;
  /** Where permanent failures go at once, with their reason (retrying them cannot succeed). */
  deadLetters: Queue;
  /** The queue this function consumes: a retryable record is handed back to it for a backoff delay. */
  source: SourceQueue;
  retry: RetryPolicy;
  logger: Logger;
  clock?: Clock;
  hooks?: QueueHandlerHooks;
}

/**
 * What a watcher (peerctl's progress lines, the local pipeline) is told about a record's fate, as
 * typed values rather than by reading log text. Never given secret values: messages are scrubbed.
 */
export interface QueueHandlerHooks {
  /** A retryable failure: the record comes back in `retryInSeconds`. */
  onRetry?(notice: { reason: string; message: string; receiveCount: number; retryInSeconds: number }): void;
  /** The record went to the dead-letter queue: a permanent failure, or its retry budget spent. */
  onDeadLetter?(notice: { reason: string; message: string }): void;
}

export interface RetryPolicy extends BackoffPolicy {
  /** Seconds since the message was sent after which a still-failing record is dead-lettered. */
  retryBudgetSeconds: number;
}

/**
 * A thin SQS handler: parse the record's envelope, run the workflow, decide by error class.
 * - retryable (Consul unavailable, a precondition not met yet): the record's visibility is set to an
 *   exponential backoff with jitter (ChangeMessageVisibility) and it is reported in `batchItemFailures`,
 *   so SQS redelivers that record alone in about 1, 2, 4 ... s, not after the whole visibility timeout;
 *   once the retry budget is spent it is dead-lettered with its reason;
 * - permanent (bad input, a refusal Consul will repeat): copied to the DLQ with its reason and
 *   acknowledged, so it is neither retried pointlessly nor lost.
 * One bad record never fails its batch.
 */
export function createQueueHandler<T extends PipelineEventType>(options: QueueHandlerOptions<T>) {
  const { eventTypes, workflow, deadLetters, source, retry, logger, clock = systemClock, hooks } = options;
  const processor = new BatchProcessor(EventType.SQS);

  const deadLetter = async (record: SQSRecord, correlationId: string, reason: string, message: string) => {
    hooks?.onDeadLetter?.({ reason, message: redactText(message) });
    await deadLetters.send({
      body: record.body,
      attributes: {
        reason,
        // The DLQ attribute is read by people and tools outside the logger: scrubbed by shape here too.
        error: redactText(message).slice(0, 1000),
        sourceMessageId: record.messageId,
        correlationId,
      },
    });
  };

  /** Hands the record back for a backoff delay, or dead-letters it once the budget is spent. */
  const retryLater = async (record: SQSRecord, correlationId: string, reason: string, message: string) => {
    const receiveCount = Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1);
    const sentAt = Number(record.attributes.SentTimestamp);
    const ageSeconds = Number.isFinite(sentAt) && sentAt > 0 ? (clock.now().getTime() - sentAt) / 1000 : 0;
    const delaySeconds = backoffSeconds(receiveCount, retry);
    if (ageSeconds + delaySeconds > retry.retryBudgetSeconds) {
      const why = `${message} (gave up after ${receiveCount} deliveries over ${Math.round(ageSeconds)} s; the retry budget is ${retry.retryBudgetSeconds} s)`;
      logger.error('retry budget spent: moved to the dead-letter queue', { reason, error: why });
      await deadLetter(record, correlationId, reason, why);
      return 'dead-lettered';
    }
    try {
      await source.retryAfter(record.receiptHandle, delaySeconds);
    } catch (error) {
      // Not fatal: the record still comes back, only after the queue's whole visibility timeout.
      logger.warn('could not set the retry delay; the record returns after the visibility timeout', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    logger.warn('will be retried', { reason, error: message, receiveCount, retryInSeconds: delaySeconds });
    hooks?.onRetry?.({ reason, message: redactText(message), receiveCount, retryInSeconds: delaySeconds });
    return 'retry';
  };

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const correlationId = record.messageAttributes.correlationId?.stringValue ?? record.messageId;
    logger.appendKeys({ correlationId, messageId: record.messageId });
    try {
      const event = parseEventOfTypes(record.body, eventTypes);
      logger.appendKeys({ correlationId: event.correlationId, eventId: event.id });
      await workflow(event);
    } catch (error) {
      const reason = error instanceof AutomationError ? error.reason : 'unexpected';
      const message = error instanceof Error ? error.message : String(error);
      if (isRetryable(error)) {
        if ((await retryLater(record, correlationId, reason, message)) === 'retry') throw error;
        return;
      }
      logger.error('permanent failure: moved to the dead-letter queue', { reason, error: message });
      await deadLetter(record, correlationId, reason, message);
    } finally {
      logger.removeKeys(['correlationId', 'messageId', 'eventId']);
    }
  };

  return middy<SQSEvent, SQSBatchResponse>().handler((event, context) =>
    processPartialResponse(event, handleRecord, processor, {
      context,
      throwOnFullBatchFailure: false,
      // One record at a time: the logger's correlation keys are per record, and Consul is spared bursts.
      processInParallel: false,
    }),
  );
}

/** One type: refused before its shape is checked (the clearer error); several: parsed, then checked. */
function parseEventOfTypes<T extends PipelineEventType>(
  body: string,
  types: readonly [T, ...T[]],
): EventOf<T> {
  if (types.length === 1) return parseEventOfType(body, types[0]);
  const event = parseEvent(body);
  if (!(types as readonly string[]).includes(event.type)) {
    throw new ValidationError(`type: expected ${types.join(' or ')}, got ${event.type}`, 'type');
  }
  return event as EventOf<T>;
}
