import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLogger } from '#commons/observability/logger';
import { awsWorkflowContext } from '#commons/wiring/aws-context';
import { createDriftRemediationHandler, METRICS_NAMESPACE } from './handler';
import { driftOptionsFromEnv } from './options-from-env';

// Run by an EventBridge schedule (`{"dryRun": true}` as the rule's input makes it report only).
const logger = createLogger('drift-remediation');
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'drift-remediation' });
const { context } = awsWorkflowContext(logger);

export const handler = createDriftRemediationHandler({
  context,
  logger,
  metrics,
  scan: driftOptionsFromEnv(),
});
