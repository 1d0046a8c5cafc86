import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { FUNCTION_AWS_CLIENT_CONFIG } from '../aws/client-config';
import { SecretsManagerSecretStore } from '../aws/secrets-manager-secret-store';
import { SqsQueue } from '../aws/sqs-queue';
import { SecretBackedClusterDirectory } from '../clusters';
import { ConsulClient } from '../consul/client';
import { workflowLog } from '../observability/logger';
import { systemClock } from '../ports/clock';
import type { Queue, SourceQueue } from '../ports/queue';
import { QueueEventPublisher } from '../queue-event-publisher';
import type { WorkflowContext } from '../workflows/context';
import { requiredEnv, settingsFromEnv } from './settings-from-env';

/**
 * Production wiring: Secrets Manager, one SQS queue per consuming function, Consul over HTTPS.
 * Built once per cold start at module scope. `AWS_ENDPOINT_URL` (read by the SDK) points it at moto.
 */
export function awsWorkflowContext(logger: Logger, env: NodeJS.ProcessEnv = process.env) {
  const sqs = new SQSClient(FUNCTION_AWS_CLIENT_CONFIG);
  const sqsQueue = (name: string) => new SqsQueue({ queueUrl: requiredEnv(name, env), client: sqs });
  const queue = (name: string): Queue => sqsQueue(name);
  const settings = settingsFromEnv(env);
  const secrets = new SecretsManagerSecretStore(new SecretsManagerClient(FUNCTION_AWS_CLIENT_CONFIG), {
    kmsKeyId: settings.secretsKmsKeyId,
  });
  const outcomes = queue('OUTCOME_QUEUE_URL');
  const context: WorkflowContext = {
    secrets,
    clusters: new SecretBackedClusterDirectory(
      secrets,
      (connection) => new ConsulClient(connection),
      settings.secretPrefix,
    ),
    events: new QueueEventPublisher({
      'cluster.registered': queue('ONBOARD_QUEUE_URL'),
      'peering.requested': queue('ACCEPT_QUEUE_URL'),
      'peering.acceptor-ready': queue('DIAL_QUEUE_URL'),
      'peering.established': outcomes,
      'peering.failed': outcomes,
    }),
    clock: systemClock,
    log: workflowLog(logger),
    settings,
  };
  return {
    context,
    deadLetters: queue('DEAD_LETTER_QUEUE_URL'),
    /** The queue the function consumes, named by the variable that carries its URL. */
    sourceQueue: (variable: string): SourceQueue => sqsQueue(variable),
  };
}
