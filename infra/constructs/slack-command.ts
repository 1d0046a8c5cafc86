import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { functionEntry } from './bundle-options';
import { ALARM_DEFAULTS, SLACK_COMMAND_DEFAULTS } from './defaults';
import { PeeringFunction } from './peering-function';

export interface SlackCommandProps {
  projectRoot: string;
  secretPrefix: string;
  /** The secret holding the Slack app's signing secret (plain text). */
  signingSecretName: string;
  /** Who may run commands, and where (both must match). Empty lists let nobody in. */
  allowedUserIds: readonly string[];
  allowedChannelIds: readonly string[];
  /** Where `peering.requested` goes: the accept-peering work queue. */
  acceptQueue: sqs.IQueue;
  /** The queues' and secrets' KMS key (a producer or secret writer needs kms:GenerateDataKey on it). */
  key: kms.IKey;
  logLevel?: string;
}

/** Where slack-command keeps each request's response_url (functions/commons/slack/naming.ts). */
export const slackResponsesFolder = (secretPrefix: string): string => `${secretPrefix}/slack-responses`;

/**
 * The `/peering` slash command: a PeeringFunction behind a Lambda function URL with `AuthType: NONE`.
 *
 * Why NONE: Slack calls the URL from its own servers and cannot sign requests with AWS SigV4, so IAM
 * auth is impossible. The authentication is Slack's request signature (HMAC-SHA256 of the raw body and
 * a timestamp with the app's signing secret, checked in the handler before anything is parsed, with
 * a 5-minute replay window), then the user and channel allow lists. Until the signature checks out, a
 * request can make the function do nothing but read its signing secret (cached per cold start).
 *
 * What bounds the rest:
 * - reserved concurrency (SLACK_COMMAND_DEFAULTS): a flood of unsigned requests costs at most that many
 *   concurrent executions and cannot starve the pipeline's functions; Lambda answers the excess 429;
 * - a short timeout and a 4 KiB body limit (in the handler);
 * - outside any VPC: it never talks to Consul (only Secrets Manager and SQS), so a flaw in this
 *   public-facing function has no network path to Consul servers that are only reachable in the VPC;
 * - IAM: it reads its signing secret and its own `<prefix>/slack-responses/*`, nothing else (it lists
 *   secret names to check a cluster is registered, and never reads a cluster's connection secret, whose
 *   token mints gateway tokens); it writes and deletes only `<prefix>/slack-responses/*`, and sends
 *   only to the accept queue.
 *
 * cdk-nag's AwsSolutions pack has no rule on function URL auth (the HIPAA, NIST and PCI packs'
 * LambdaFunctionUrlAuth would flag it: this comment is its acknowledgement); the `*` of ListSecrets is
 * acknowledged where it is granted.
 */
export class SlackCommand extends Construct {
  readonly fn: PeeringFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: SlackCommandProps) {
    super(scope, id);
    this.fn = new PeeringFunction(this, 'Function', {
      entry: functionEntry(props.projectRoot, 'slack-command'),
      projectRoot: props.projectRoot,
      description: SLACK_COMMAND_DEFAULTS.description,
      timeout: SLACK_COMMAND_DEFAULTS.timeout,
      memorySize: SLACK_COMMAND_DEFAULTS.memorySize,
      reservedConcurrentExecutions: SLACK_COMMAND_DEFAULTS.reservedConcurrency,
      environment: {
        SLACK_SIGNING_SECRET_NAME: props.signingSecretName,
        SLACK_ALLOWED_USERS: props.allowedUserIds.join(','),
        SLACK_ALLOWED_CHANNELS: props.allowedChannelIds.join(','),
        SECRET_PREFIX: props.secretPrefix,
        ACCEPT_QUEUE_URL: props.acceptQueue.queueUrl,
        SECRETS_KMS_KEY_ID: props.key.keyArn,
      },
      logLevel: props.logLevel,
    });

    this.fn.allowReadingSecret('SlackSigningSecret', props.signingSecretName);
    this.fn.allowSecretActions({
      sid: 'SlackResponses',
      // put() reads before it writes (GetSecretValue), CreateSecret tags the secret (TagResource), and a
      // request whose event could not be queued deletes its response_url again (DeleteSecret).
      actions: [
        'secretsmanager:CreateSecret',
        'secretsmanager:PutSecretValue',
        'secretsmanager:GetSecretValue',
        'secretsmanager:DeleteSecret',
        'secretsmanager:TagResource',
      ],
      namePrefix: slackResponsesFolder(props.secretPrefix),
      reason:
        "Each Slack request stores its response_url as a secret named after the request's random id " +
        '(unknown before the request) and Secrets Manager appends a random suffix to every ARN: the ' +
        "grant is scoped to the slack-responses folder under the pipeline's prefix, the narrowest pattern.",
    });
    this.fn.allowListingSecrets(
      'slack-command lists <prefix>/clusters/ and <prefix>/peerings/ to check that a cluster is ' +
        'registered and to answer /peering status without reading any secret value; ' +
        'secretsmanager:ListSecrets supports no resource-level permissions, so AWS accepts only "*". ' +
        'It returns names, tags and descriptions, never values.',
    );
    // Its slack-responses secrets are created under the stack's key (the signing secret is the
    // operator's, under whatever key they chose: docs/deploy.md).
    this.fn.allowSecretsKey(props.key, 'write');
    this.fn.allowSendingTo([props.acceptQueue], props.key, 'Accept');

    this.url = this.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }

  /** The function URL's requests and its 4xx and 5xx answers (Lambda's `Url*` metrics), per period. */
  urlMetrics(): cloudwatch.IMetric[] {
    return ['UrlRequestCount', 'Url4xxCount', 'Url5xxCount'].map((metricName) =>
      this.fn.metric(metricName, { period: ALARM_DEFAULTS.period, statistic: 'Sum' }),
    );
  }
}
