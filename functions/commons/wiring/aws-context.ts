import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { FUNCTION_AWS_CLIENT_CONFIG } from '../aws/client-config';
import { SecretsManagerSecretStore } from '../aws/secrets-manager-secret-store';
import { SecretBackedClusterDirectory } from '../clusters';
import { SqsQueue } from '../aws/sqs-queue';
import { ConsulClient } from '../consul/client';
import { workflowLog } from '../observability/logger';
import type { Queue, SourceQueue } from '../ports/queue';
import type { GatewayTokenRotationContext } from '../workflows/rotate-gateway-token';
import type { SecretRotationSchedule } from '../workflows/context';
import { requiredEnv, rotationAfterDaysFromEnv, settingsFromEnv } from './settings-from-env';
import { buildWorkflowContext } from './workflow-context';

/**
 * Production wiring: Secrets Manager, one SQS queue per consuming function, Consul over HTTPS.
 * Built once per cold start at module scope. `AWS_ENDPOINT_URL` (read by the SDK) points it at moto.
 */
export function awsWorkflowContext(logger: Logger, env: NodeJS.ProcessEnv = process.env) {
  const sqs = new SQSClient(FUNCTION_AWS_CLIENT_CONFIG);
  const sqsQueue = (name: string) => new SqsQueue({ queueUrl: requiredEnv(name, env), client: sqs });
  const queue = (name: string): Queue => sqsQueue(name);
  const settings = settingsFromEnv(env);
  const secrets = secretsManager(settings.secretsKmsKeyId);
  const context = buildWorkflowContext({
    secrets,
    consul: (connection) => new ConsulClient(connection),
    events: {
      onboard: queue('ONBOARD_QUEUE_URL'),
      accept: queue('ACCEPT_QUEUE_URL'),
      dial: queue('DIAL_QUEUE_URL'),
      outcomes: queue('OUTCOME_QUEUE_URL'),
    },
    log: workflowLog(logger),
    settings,
    ...rotationSchedule(secrets, env),
  });
  return {
    context,
    deadLetters: queue('DEAD_LETTER_QUEUE_URL'),
    /** The queue the function consumes, named by the variable that carries its URL. */
    sourceQueue: (variable: string): SourceQueue => sqsQueue(variable),
  };
}

/** The rotation function's wiring: Secrets Manager and Consul only (it publishes nothing). */
export function awsRotationContext(
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): GatewayTokenRotationContext {
  const settings = settingsFromEnv(env);
  const secrets = secretsManager(settings.secretsKmsKeyId);
  return {
    secrets,
    clusters: new SecretBackedClusterDirectory(
      secrets,
      (connection) => new ConsulClient(connection),
      settings.secretPrefix,
    ),
    withConsulAs: async (connection, token, use) => {
      const consul = new ConsulClient({ ...connection, token });
      try {
        return await use(consul);
      } finally {
        await consul.close();
      }
    },
    secretPrefix: settings.secretPrefix,
    log: workflowLog(logger),
  };
}

const secretsManager = (kmsKeyId: string | undefined) =>
  new SecretsManagerSecretStore(new SecretsManagerClient(FUNCTION_AWS_CLIENT_CONFIG), { kmsKeyId });

/**
 * Onboarding hands each gateway token secret to the rotation function (ROTATION_FUNCTION_ARN), every
 * ROTATION_AFTER_DAYS days (default 30). Unset: the deployment rotates nothing on a schedule.
 */
function rotationSchedule(
  secrets: SecretsManagerSecretStore,
  env: NodeJS.ProcessEnv,
): { gatewayTokenRotation?: SecretRotationSchedule } {
  const functionArn = env.ROTATION_FUNCTION_ARN;
  if (functionArn === undefined || functionArn === '') return {};
  const afterDays = rotationAfterDaysFromEnv(env);
  return {
    gatewayTokenRotation: { enable: (name) => secrets.enableRotation(name, { functionArn, afterDays }) },
  };
}
