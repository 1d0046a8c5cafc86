import { createLogger } from '#commons/observability/logger';
import { awsWorkflowContext } from '#commons/wiring/aws-context';
import { createAcceptPeeringHandler } from './handler';

const logger = createLogger('accept-peering');
const { context, deadLetters, sourceQueue } = awsWorkflowContext(logger);

export const handler = createAcceptPeeringHandler(
  context,
  deadLetters,
  logger,
  sourceQueue('ACCEPT_QUEUE_URL'),
);
