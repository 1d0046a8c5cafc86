import { createLogger } from '#commons/observability/logger';
import { awsWorkflowContext } from '#commons/wiring/aws-context';
import { createOnboardClusterHandler } from './handler';

const logger = createLogger('onboard-cluster');
const { context, deadLetters, sourceQueue } = awsWorkflowContext(logger);

export const handler = createOnboardClusterHandler(
  context,
  deadLetters,
  logger,
  sourceQueue('ONBOARD_QUEUE_URL'),
);
