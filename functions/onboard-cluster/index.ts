import { createLogger } from '#commons/observability/logger';
import { awsWorkflowContext } from '#commons/wiring/aws-context';
import { createOnboardClusterHandler } from './handler';

const logger = createLogger('onboard-cluster');
const { context, deadLetters } = awsWorkflowContext(logger);

export const handler = createOnboardClusterHandler(context, deadLetters, logger);
