import { createLogger } from '#commons/observability/logger';
import { awsRotationContext } from '#commons/wiring/aws-context';
import { createRotateGatewayTokenHandler } from './handler';

// Invoked by Secrets Manager for the gateway token secrets onboarding hands to it (RotateSecret).
const logger = createLogger('rotate-gateway-token');

export const handler = createRotateGatewayTokenHandler(awsRotationContext(logger), logger);
