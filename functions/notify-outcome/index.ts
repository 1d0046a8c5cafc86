import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { FUNCTION_AWS_CLIENT_CONFIG } from '#commons/aws/client-config';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';
import { createLogger, workflowLog } from '#commons/observability/logger';
import { SlackResponsePoster } from '#commons/slack/response-poster';
import { requiredEnv, settingsFromEnv } from '#commons/wiring/settings-from-env';
import { createNotifyOutcomeHandler } from './handler';

const logger = createLogger('notify-outcome');

// Posts go only to https://hooks.slack.com/ (the poster's default); there is deliberately no setting
// to widen that in production.
const sqs = new SQSClient(FUNCTION_AWS_CLIENT_CONFIG);

export const handler = createNotifyOutcomeHandler({
  context: {
    secrets: new SecretsManagerSecretStore(new SecretsManagerClient(FUNCTION_AWS_CLIENT_CONFIG)),
    secretPrefix: process.env.SECRET_PREFIX ?? DEFAULT_SECRET_PREFIX,
    slack: new SlackResponsePoster(),
    log: workflowLog(logger),
  },
  deadLetters: new SqsQueue({ queueUrl: requiredEnv('DEAD_LETTER_QUEUE_URL'), client: sqs }),
  source: new SqsQueue({ queueUrl: requiredEnv('OUTCOME_QUEUE_URL'), client: sqs }),
  retry: settingsFromEnv(),
  logger,
});
