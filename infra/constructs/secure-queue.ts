import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { QUEUE_DEFAULTS } from './defaults';

const SQS_DEFAULT_VISIBILITY_TIMEOUT = Duration.seconds(30);

interface SecureQueueBaseProps {
  /** Our customer managed key: producers need kms:GenerateDataKey on it, consumers kms:Decrypt. */
  encryptionKey: kms.IKey;
  visibilityTimeout?: Duration;
  retentionPeriod?: Duration;
}

/**
 * Either the queue redrives to a dead-letter queue, or it is one. There is no third option, so a
 * queue cannot be created that silently loses poison messages.
 */
export type SecureQueueProps = SecureQueueBaseProps &
  ({ deadLetterQueue: { queue: sqs.IQueue; maxReceiveCount: number } } | { isDeadLetterQueue: true });

/**
 * A standard SQS queue, secure by default: encrypted with our KMS key, a queue policy that denies any
 * request not made over TLS, and a redrive policy (or the role of dead-letter queue).
 */
export class SecureQueue extends sqs.Queue {
  /** Kept so a consumer can check it fits its timeout (sqs.Queue does not expose it). */
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: SecureQueueProps) {
    const redrive = 'deadLetterQueue' in props ? props.deadLetterQueue : undefined;
    if (redrive !== undefined) {
      const count = redrive.maxReceiveCount;
      // SQS accepts 1..1000.
      if (!Number.isInteger(count) || count < 1 || count > 1000) {
        throw new Error(`${id}: maxReceiveCount must be an integer from 1 to 1000, got ${count}`);
      }
    }
    super(scope, id, {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod:
        props.retentionPeriod ??
        (redrive === undefined ? QUEUE_DEFAULTS.deadLetterRetentionPeriod : QUEUE_DEFAULTS.retentionPeriod),
      deadLetterQueue: redrive,
    });
    this.visibilityTimeout = props.visibilityTimeout ?? SQS_DEFAULT_VISIBILITY_TIMEOUT;
  }
}
