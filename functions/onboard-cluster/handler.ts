import type { Logger } from '@aws-lambda-powertools/logger';
import { createQueueHandler, type QueueHandlerHooks } from '#commons/handler/queue-handler';
import type { Queue, SourceQueue } from '#commons/ports/queue';
import type { WorkflowContext } from '#commons/workflows/context';
import { onboardCluster } from '#commons/workflows/onboard-cluster';

/** `cluster.registered` → `onboardCluster`. The same handler runs in Lambda (index.ts) and in the local runtime. */
export const createOnboardClusterHandler = (
  context: WorkflowContext,
  deadLetters: Queue,
  logger: Logger,
  source: SourceQueue,
  hooks?: QueueHandlerHooks,
) =>
  createQueueHandler({
    eventTypes: ['cluster.registered'],
    workflow: (event) => onboardCluster(event, context),
    deadLetters,
    source,
    retry: context.settings,
    logger,
    ...(hooks === undefined ? {} : { hooks }),
  });
