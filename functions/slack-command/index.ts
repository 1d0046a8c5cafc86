import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SqsQueue } from '#commons/aws/sqs-queue';
import { createLogger } from '#commons/observability/logger';
import { systemClock } from '#commons/ports/clock';
import { QueueEventPublisher } from '#commons/queue-event-publisher';
import { slackSigningSecretLoader } from './signing-secret';
import { slackCommandSettingsFromEnv } from './config';
import { createSlackCommandHandler } from './handler';
import { secretsKmsKeyIdFromEnv } from '#commons/wiring/settings-from-env';

// Light on purpose (no Consul client, no batch processing): Slack wants an answer within 3 s, cold
// start included. AWS calls get short timeouts and one retry for the same reason.
const awsClientConfig = { maxAttempts: 2, requestHandler: { connectionTimeout: 500, requestTimeout: 1_000 } };

const logger = createLogger('slack-command');
const settings = slackCommandSettingsFromEnv();
const secrets = new SecretsManagerSecretStore(new SecretsManagerClient(awsClientConfig), {
  kmsKeyId: secretsKmsKeyIdFromEnv(),
});
const acceptQueue = new SqsQueue({
  queueUrl: settings.acceptQueueUrl,
  client: new SQSClient(awsClientConfig),
});

export const handler = createSlackCommandHandler({
  config: settings,
  signingSecret: slackSigningSecretLoader(secrets, settings.signingSecretName),
  secrets,
  events: new QueueEventPublisher({ 'peering.requested': acceptQueue }),
  clock: systemClock,
  logger,
});
