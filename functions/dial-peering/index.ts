import { createLogger } from '#commons/observability/logger';
import { awsWorkflowContext } from '#commons/wiring/aws-context';
import { createDialPeeringHandler } from './handler';

const logger = createLogger('dial-peering');
const { context, deadLetters, sourceQueue } = awsWorkflowContext(logger);

export const handler = createDialPeeringHandler(context, deadLetters, logger, sourceQueue('DIAL_QUEUE_URL'));
