import type { Logger } from '@aws-lambda-powertools/logger';
import { createQueueHandler, type QueueHandlerHooks } from '#commons/handler/queue-handler';
import type { Queue, SourceQueue } from '#commons/ports/queue';
import type { WorkflowContext } from '#commons/workflows/context';
import { dialPeering } from '#commons/workflows/dial-peering';

/** `peering.acceptor-ready` → `dialPeering`. The same handler runs in Lambda (index.ts) and in the local runtime. */
export const createDialPeeringHandler = (
  context: WorkflowContext,
  deadLetters: Queue,
  logger: Logger,
  source: SourceQueue,
  hooks?: QueueHandlerHooks,
) =>
  createQueueHandler({
    eventTypes: ['peering.acceptor-ready'],
    workflow: (event) => dialPeering(event, context),
    deadLetters,
    source,
    retry: context.settings,
    logger,
    ...(hooks === undefined ? {} : { hooks }),
  });
