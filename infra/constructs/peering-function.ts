import path from 'node:path';
import { Aws, Validations, type Duration } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { FUNCTION_BUNDLE } from './bundle-options';
import { FUNCTION_DEFAULTS } from './defaults';

/** Where the function runs when it must reach Consul inside the user's VPC. */
export interface VpcPlacement {
  vpc: ec2.IVpc;
  subnets: ec2.ISubnet[];
  securityGroups: ec2.ISecurityGroup[];
}

export interface PeeringFunctionProps {
  /** The handler file (exports `handler`). */
  entry: string;
  /** The folder holding package.json and package-lock.json; esbuild resolves `#commons/*` from it. */
  projectRoot: string;
  description: string;
  timeout: Duration;
  environment?: Record<string, string>;
  placement?: VpcPlacement;
  logLevel?: string;
  /** Default FUNCTION_DEFAULTS.memorySize. */
  memorySize?: number;
  /** A hard cap on concurrent executions, taken from the account's pool. Default: none. */
  reservedConcurrentExecutions?: number;
}

/** The folders of the secret naming scheme (functions/commons/naming.ts) that the pipeline keeps. */
export type SecretFolder = 'clusters' | 'gateway-tokens' | 'peering-tokens' | 'peerings';

/** What a function does to the secrets of one folder. */
export type SecretAccess = 'read' | 'write' | 'delete' | 'schedule-rotation';

/**
 * The Secrets Manager actions behind each access, all of which accept a secret ARN as resource. A
 * write is the adapter's put(): it reads first (GetSecretValue), creates with tags (CreateSecret,
 * TagResource) or adds a version (PutSecretValue). A delete of a secret already scheduled for deletion
 * asks DescribeSecret whether there is anything left to do. ListSecrets has no resource-level
 * permissions and is granted apart (allowListingSecrets).
 */
const SECRET_ACCESS_ACTIONS: Record<SecretAccess, readonly string[]> = {
  read: ['secretsmanager:GetSecretValue'],
  write: [
    'secretsmanager:GetSecretValue',
    'secretsmanager:CreateSecret',
    'secretsmanager:PutSecretValue',
    'secretsmanager:TagResource',
  ],
  delete: ['secretsmanager:DeleteSecret', 'secretsmanager:DescribeSecret'],
  // enableRotation: DescribeSecret tells whether rotation is already set up, RotateSecret sets it up.
  'schedule-rotation': ['secretsmanager:DescribeSecret', 'secretsmanager:RotateSecret'],
};

/**
 * What Secrets Manager asks KMS for on the caller's behalf when a secret is under a customer managed
 * key: Decrypt to read a value, GenerateDataKey (and Decrypt) to write one (AWS: "Secret encryption
 * and decryption in AWS Secrets Manager", Permissions for the KMS key).
 */
const SECRET_KEY_ACTIONS = {
  read: ['kms:Decrypt'],
  write: ['kms:GenerateDataKey', 'kms:Decrypt'],
} as const;

const FOLDER_SIDS: Record<SecretFolder, string> = {
  clusters: 'Clusters',
  'gateway-tokens': 'GatewayTokens',
  'peering-tokens': 'PeeringTokens',
  peerings: 'Peerings',
};

/** What the Lambda service needs on the execution role to attach the function to VPC subnets. */
const NETWORK_INTERFACE_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * Our Lambda defaults, carried once (in the spirit of Powertools' `FunctionWithLogGroup`): Node 22 on
 * arm64, bundled with the local esbuild as minified ESM with the AWS SDK inside and a source map,
 * X-Ray tracing, its own log group with retention, and its own role that starts with nothing but
 * writing to that log group (no AWS managed policies, whose resources are `*`).
 */
export class PeeringFunction extends NodejsFunction {
  readonly executionRole: iam.Role;
  /** Where the role and the log group live (beside the function, not inside it). */
  readonly #scope: Construct;

  constructor(scope: Construct, id: string, props: PeeringFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, { retention: FUNCTION_DEFAULTS.logRetention });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${id}`,
    });
    logGroup.grantWrite(role);
    const networkInterfaces =
      props.placement && networkInterfacePolicy(scope, `${id}NetworkInterfaces`, role);

    super(scope, id, {
      entry: props.entry,
      handler: 'handler',
      projectRoot: props.projectRoot,
      depsLockFilePath: path.join(props.projectRoot, 'package-lock.json'),
      description: props.description,
      runtime: FUNCTION_DEFAULTS.runtime,
      architecture: FUNCTION_DEFAULTS.architecture,
      memorySize: props.memorySize ?? FUNCTION_DEFAULTS.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: FUNCTION_DEFAULTS.tracing,
      loggingFormat: FUNCTION_DEFAULTS.loggingFormat,
      logGroup,
      role,
      environment: {
        LOG_LEVEL: props.logLevel ?? FUNCTION_DEFAULTS.logLevel,
        // Stack traces in our logs point at functions/**/*.ts, not at minified code.
        ...(FUNCTION_BUNDLE.sourcemap && { NODE_OPTIONS: '--enable-source-maps' }),
        ...props.environment,
      },
      ...(props.placement && {
        vpc: props.placement.vpc,
        vpcSubnets: { subnets: props.placement.subnets },
        securityGroups: props.placement.securityGroups,
      }),
      bundling: {
        target: FUNCTION_BUNDLE.target,
        format: OutputFormat.ESM,
        minify: FUNCTION_BUNDLE.minify,
        mainFields: [...FUNCTION_BUNDLE.mainFields],
        banner: FUNCTION_BUNDLE.banner,
        bundleAwsSDK: FUNCTION_BUNDLE.bundleAwsSdk,
        externalModules: [...FUNCTION_BUNDLE.external],
        sourceMap: FUNCTION_BUNDLE.sourcemap,
        sourcesContent: FUNCTION_BUNDLE.sourcesContent,
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
      },
    });
    this.executionRole = role;
    this.#scope = scope;
    // Lambda checks the role's ENI permissions when it creates the function.
    if (networkInterfaces) this.node.addDependency(networkInterfaces);

    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is pinned on purpose (NODEJS_LATEST now means 24): the project builds, tests and ' +
        'bundles on Node 22 (the `node` devDependency), and moving to a new major is a tested change.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level ' +
        'permissions, so AWS accepts only "*" (added by Tracing.ACTIVE; the only "*" in this role\'s policy).',
    });
  }

  /**
   * One statement per folder of `<prefix>/`, with exactly the actions of `grants[folder]`, and what
   * Secrets Manager needs on `key` to read (and, for a writer, to encrypt) those secrets.
   */
  allowSecretFolders(
    secretPrefix: string,
    grants: Partial<Record<SecretFolder, readonly SecretAccess[]>>,
    key: kms.IKey,
  ): void {
    let writes = false;
    for (const [folder, access] of Object.entries(grants) as [SecretFolder, readonly SecretAccess[]][]) {
      writes ||= access.includes('write');
      this.allowSecretActions({
        sid: `${access.map((a) => a.replace(/(?:^|-)(\w)/g, (_, c: string) => c.toUpperCase())).join('')}${FOLDER_SIDS[folder]}`,
        actions: [...new Set(access.flatMap((a) => SECRET_ACCESS_ACTIONS[a]))],
        namePrefix: `${secretPrefix}/${folder}`,
        reason:
          `The ${folder} secrets are named per cluster or per peering at run time and Secrets Manager ` +
          'appends a random suffix to every ARN: the grant is scoped to that one folder of the ' +
          "pipeline's prefix, the narrowest pattern that covers them.",
      });
    }
    this.allowSecretsKey(key, writes ? 'write' : 'read');
  }

  /** What Secrets Manager needs on the secrets' KMS key for this function to read, or also write, them. */
  allowSecretsKey(key: kms.IKey, access: 'read' | 'write'): void {
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SecretsKey',
        actions: [...SECRET_KEY_ACTIONS[access]],
        resources: [key.keyArn],
      }),
    );
  }

  /**
   * Secrets Manager `actions` on the secrets named `<namePrefix>/…` only. The ARN pattern ends in `*`
   * (names known at run time, random ARN suffix), so the cdk-nag finding is acknowledged, for exactly
   * that pattern, with `reason`.
   */
  allowSecretActions(grant: { sid: string; actions: string[]; namePrefix: string; reason: string }): void {
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: grant.sid,
        actions: grant.actions,
        resources: [secretArnPattern(grant.namePrefix)],
      }),
    );
    Validations.of(this.executionRole).acknowledge({
      id: secretPatternFinding(grant.namePrefix),
      reason: grant.reason,
    });
  }

  /**
   * `secretsmanager:GetSecretValue` on the one secret called `secretName` (its ARN is the name, a dash
   * and six random characters: `-??????` matches exactly those, not `<name>-x`, not `<name>/x`).
   */
  allowReadingSecret(sid: string, secretName: string): void {
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid,
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArnOf(secretName)],
      }),
    );
  }

  /**
   * `secretsmanager:ListSecrets`, which supports no resource-level permissions: AWS accepts only `*`.
   * It returns names, tags and descriptions, never values. Kept in a policy of its own, with its own
   * acknowledgement, so the role's acknowledged `*` (X-Ray) cannot silently cover it or anything else.
   */
  allowListingSecrets(reason: string): iam.Policy {
    const policy = new iam.Policy(this.#scope, `${this.node.id}ListSecrets`, {
      roles: [this.executionRole],
      statements: [
        new iam.PolicyStatement({
          sid: 'ListSecrets',
          actions: ['secretsmanager:ListSecrets'],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(policy).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason });
    // Granted before the function exists, so no invocation runs without it.
    this.node.addDependency(policy);
    return policy;
  }

  /**
   * `sqs:SendMessage` to `queues` (and what a producer needs on their KMS key), nothing else. The
   * statements are named `<name>Queues` and `<name>QueueKey`.
   */
  allowSendingTo(queues: sqs.IQueue[], key: kms.IKey, name = 'Pipeline'): void {
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `${name}Queues`,
        actions: ['sqs:SendMessage'],
        resources: queues.map((queue) => queue.queueArn),
      }),
    );
    // What an SQS producer needs on a queue's KMS key (SQS generates and decrypts data keys for it).
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `${name}QueueKey`,
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
  }
}

/**
 * `arn:<partition>:secretsmanager:<region>:<account>:secret:<prefix>/*`, with pseudo parameters even
 * when the stack's environment is known, so the template (and the nag acknowledgement) is the same in
 * every environment.
 */
export function secretArnPattern(secretPrefix: string): string {
  return `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretPrefix}/*`;
}

/** The ARN of the one secret named `secretName`: Secrets Manager appends `-` and six random characters. */
export function secretArnOf(secretName: string): string {
  return `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretName}-??????`;
}

/** The cdk-nag finding id for a `<prefix>/*` secret pattern, as cdk-nag renders the pseudo parameters. */
const secretPatternFinding = (secretPrefix: string): string =>
  `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${secretPrefix}/*]`;

function networkInterfacePolicy(scope: Construct, id: string, role: iam.IRole): iam.Policy {
  const policy = new iam.Policy(scope, id, {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        sid: 'LambdaVpcNetworkInterfaces',
        actions: NETWORK_INTERFACE_ACTIONS,
        // The Describe* actions support no resource-level permissions, and the ENIs Lambda creates do
        // not exist (have no ARN) before it creates them: AWS's own AWSLambdaVPCAccessExecutionRole
        // grants exactly these on "*".
        resources: ['*'],
      }),
    ],
  });
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'VPC attachment: the Lambda service uses these EC2 network-interface actions of the execution role ' +
      'to create the function\'s ENIs; the Describe* actions accept only "*" and the ENIs have no ARN ' +
      'before they exist (same scope as the AWS managed AWSLambdaVPCAccessExecutionRole, without its ' +
      'log permissions).',
  });
  return policy;
}
