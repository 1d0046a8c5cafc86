import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { AutomationError, isRetryable, ValidationError } from '../errors';
import { parseEvent, parseEventOfType, type EventOf, type EventType as PipelineEventType } from '../events';
import type { Queue } from '../ports/queue';

export interface QueueHandlerOptions<T extends PipelineEventType> {
  /** The event types this function consumes; any other is bad input (dead-lettered, workflow not run). */
  eventTypes: readonly [T, ...T[]];
  workflow: (event: EventOf<T>) => Promise<unknown>;
  /** Where permanent failures go at once, with their reason (retrying them cannot succeed). */
  deadLetters: Queue;
  logger: Logger;
}

/**
 * A thin SQS handler: parse the record's envelope, run the workflow, decide by error class.
 * - retryable (Consul unavailable, a precondition not met yet): reported in `batchItemFailures`, so
 *   SQS redelivers that record alone after the visibility timeout, up to maxReceiveCount;
 * - permanent (bad input, a refusal Consul will repeat): copied to the DLQ with its reason and
 *   acknowledged, so it is neither retried pointlessly nor lost.
 * One bad record never fails its batch.
 */
export function createQueueHandler<T extends PipelineEventType>(options: QueueHandlerOptions<T>) {
  const { eventTypes, workflow, deadLetters, logger } = options;
  const processor = new BatchProcessor(EventType.SQS);

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
        logger.warn('will be retried', {
          reason,
          error: message,
          receiveCount: record.attributes.ApproximateReceiveCount,
        });
        throw error;
      }
      logger.error('permanent failure: moved to the dead-letter queue', { reason, error: message });
      await deadLetters.send({
        body: record.body,
        attributes: {
          reason,
          error: message.slice(0, 1000),
          sourceMessageId: record.messageId,
          correlationId,
        },
      });
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
