import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { functionEntry } from './bundle-options';
import { PeeringFunction, type VpcPlacement } from './peering-function';

export interface GatewayTokenRotationProps {
  projectRoot: string;
  secretPrefix: string;
  /** SECRET_PREFIX and SECRETS_KMS_KEY_ID (it reads connection secrets and writes token versions). */
  environment: Record<string, string>;
  key: kms.IKey;
  /** In the VPC like the pipeline's steps: it creates and tests tokens in Consul. */
  placement?: VpcPlacement;
  logLevel?: string;
}

/**
 * The rotation function of the gateway token secrets: Secrets Manager invokes it once per step
 * (createSecret, setSecret, testSecret, finishSecret) for the secrets onboarding hands to it. It may
 * touch only the gateway-tokens folder (versions and labels, never create or delete a secret) and
 * read the clusters' connection secrets; only Secrets Manager of this account may invoke it.
 */
export class GatewayTokenRotation extends Construct {
  readonly fn: PeeringFunction;

  constructor(scope: Construct, id: string, props: GatewayTokenRotationProps) {
    super(scope, id);
    this.fn = new PeeringFunction(this, 'Function', {
      entry: functionEntry(props.projectRoot, 'rotate-gateway-token'),
      projectRoot: props.projectRoot,
      description: 'Rotates the mesh gateways ACL tokens (Secrets Manager rotation function)',
      // One step is a few Consul and Secrets Manager calls; Secrets Manager waits for each.
      timeout: Duration.seconds(30),
      environment: props.environment,
      placement: props.placement,
      logLevel: props.logLevel,
    });
    this.fn.allowSecretActions({
      sid: 'RotateGatewayTokens',
      actions: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ],
      namePrefix: `${props.secretPrefix}/gateway-tokens`,
      reason:
        'The gateway-tokens secrets are named per cluster at run time and Secrets Manager appends a random ' +
        "suffix to every ARN: the grant is scoped to that one folder of the pipeline's prefix.",
    });
    this.fn.allowSecretActions({
      sid: 'ReadClusters',
      actions: ['secretsmanager:GetSecretValue'],
      namePrefix: `${props.secretPrefix}/clusters`,
      reason:
        'The connection secrets are named per cluster at run time (random ARN suffix): the grant is ' +
        "scoped to the clusters folder of the pipeline's prefix.",
    });
    this.fn.allowSecretsKey(props.key, 'write');
    this.fn.addPermission('InvokedBySecretsManager', {
      principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
      sourceAccount: Stack.of(this).account,
    });
  }
}
