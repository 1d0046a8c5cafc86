import type { Logger } from '@aws-lambda-powertools/logger';
import { createQueueHandler } from '#commons/handler/queue-handler';
import type { Queue, SourceQueue } from '#commons/ports/queue';
import type { RetryPolicy } from '#commons/handler/queue-handler';
import { notifyOutcome, type NotifyOutcomeContext } from '#commons/slack/notify-outcome';

export interface NotifyOutcomeHandlerOptions {
  context: NotifyOutcomeContext;
  /** Where permanent failures go at once, with their reason. */
  deadLetters: Queue;
  /** The outcome queue: a retryable failure comes back after a backoff delay. */
  source: SourceQueue;
  retry: RetryPolicy;
  logger: Logger;
}

/**
 * `peering.established` / `peering.failed` → `notifyOutcome`, with the pipeline's error policy: a
 * retryable failure (Slack 5xx, a network error) is redelivered alone; a permanent one (a malformed or
 * foreign event) is copied to the dead-letter queue with its reason.
 */
export function createNotifyOutcomeHandler({
  context,
  deadLetters,
  source,
  retry,
  logger,
}: NotifyOutcomeHandlerOptions) {
  return createQueueHandler({
    eventTypes: ['peering.established', 'peering.failed'],
    workflow: async (event) => {
      const result = await notifyOutcome(event, context);
      logger.debug('outcome handled', { result });
    },
    deadLetters,
    source,
    retry,
    logger,
  });
}
