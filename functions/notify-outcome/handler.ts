import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { AutomationError, isRetryable, ValidationError } from '#commons/errors';
import { parseEvent, type PipelineEvent } from '#commons/events/index';
import type { Queue } from '#commons/ports/queue';
import { notifyOutcome, type NotifyOutcomeContext, type OutcomeEvent } from '#commons/slack/notify-outcome';

export interface NotifyOutcomeHandlerOptions {
  context: NotifyOutcomeContext;
  /** Where permanent failures go at once, with their reason. */
  deadLetters: Queue;
  logger: Logger;
}

const OUTCOME_TYPES = ['peering.established', 'peering.failed'] as const;
const isOutcome = (event: PipelineEvent): event is OutcomeEvent =>
  (OUTCOME_TYPES as readonly string[]).includes(event.type);

/**
 * `peering.established` / `peering.failed` → `notifyOutcome`. The same error policy as the pipeline's
 * queue handlers (commons/handler/queue-handler.ts), over the two outcome types: a retryable failure
 * (Slack 5xx, a network error) is reported in `batchItemFailures` and redelivered alone; a permanent
 * one (a malformed or foreign event) is copied to the dead-letter queue with its reason.
 */
export function createNotifyOutcomeHandler(options: NotifyOutcomeHandlerOptions) {
  const { context, deadLetters, logger } = options;
  const processor = new BatchProcessor(EventType.SQS);

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const correlationId = record.messageAttributes.correlationId?.stringValue ?? record.messageId;
    logger.appendKeys({ correlationId, messageId: record.messageId });
    try {
      const event = parseEvent(record.body);
      logger.appendKeys({ correlationId: event.correlationId, eventId: event.id });
      if (!isOutcome(event)) {
        throw new ValidationError(`type: expected ${OUTCOME_TYPES.join(' or ')}, got ${event.type}`, 'type');
      }
      const result = await notifyOutcome(event, context);
      logger.debug('outcome handled', { result });
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

  return middy<SQSEvent, SQSBatchResponse>().handler((event, lambdaContext) =>
    processPartialResponse(event, handleRecord, processor, {
      context: lambdaContext,
      throwOnFullBatchFailure: false,
      processInParallel: false,
    }),
  );
}
