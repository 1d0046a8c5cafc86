import { Match, type Template } from 'aws-cdk-lib/assertions';
import {
  clusterSecretName,
  gatewayTokenSecretName,
  peeringRecordSecretName,
  peeringTokenSecretName,
} from '#commons/naming';
import { slackResponseSecretName } from '#commons/slack/naming';
import { METRICS_NAMESPACE } from '../../functions/drift-remediation/handler';
import { FUNCTION_NAMES } from '../constructs/bundle-options';
import { DRIFT_DEFAULTS } from '../constructs/defaults';
import { allows, grantsFor, roleOf, secretArn, statementsOf } from '../testing/iam';
import { NETWORK_CONTEXT, synthStack } from '../testing/synth';

type Resource = { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Sid?: string };

const resourcesOf = (template: Template, type: string): Record<string, Resource> =>
  template.findResources(type) as Record<string, Resource>;

const getAtt = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function logicalId(template: Template, type: string, pathPart: string): string {
  const ids = Object.keys(resourcesOf(template, type)).filter((id) => id.startsWith(pathPart));
  if (ids.length !== 1)
    throw new Error(`expected one ${type} starting with ${pathPart}, found ${ids.join(', ')}`);
  return ids[0] as string;
}

/** Every IAM statement of the stack, with the policy it belongs to. */
function statements(template: Template): { policy: string; statement: Statement }[] {
  const found: { policy: string; statement: Statement }[] = [];
  for (const [id, policy] of Object.entries(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const document = policy.Properties.PolicyDocument as { Statement: Statement[] };
    for (const statement of document.Statement) found.push({ policy: id, statement });
  }
  for (const [id, role] of Object.entries(resourcesOf(template, 'AWS::IAM::Role'))) {
    for (const inline of (role.Properties.Policies ?? []) as {
      PolicyDocument: { Statement: Statement[] };
    }[]) {
      for (const statement of inline.PolicyDocument.Statement) found.push({ policy: id, statement });
    }
  }
  return found;
}

const QUEUES = [
  'DeadLetterQueue',
  'OutcomeQueue',
  'OnboardClusterQueue',
  'AcceptPeeringQueue',
  'DialPeeringQueue',
];
const WORK_QUEUES = ['OnboardClusterQueue', 'AcceptPeeringQueue', 'DialPeeringQueue'];
/** The pipeline's steps: they talk to Consul, in the VPC when one is configured. */
const PIPELINE = ['OnboardClusterFunction', 'AcceptPeeringFunction', 'DialPeeringFunction'];
const FUNCTIONS = [
  ...PIPELINE,
  'NotifyOutcomeFunction',
  'SlackCommandFunction',
  'DriftRemediationFunction',
  'GatewayTokenRotationFunction',
];
/** The functions that talk to Consul, and so run in the VPC when one is configured. */
const IN_VPC = [...PIPELINE, 'DriftRemediationFunction', 'GatewayTokenRotationFunction'];
/** Never in a VPC: they never talk to Consul (notify-outcome talks to Slack, slack-command is public). */
const OUTSIDE_VPC = ['NotifyOutcomeFunction', 'SlackCommandFunction'];

/** Example ARNs of the secrets the pipeline keeps, by what they hold. */
const PREFIX = 'consul-peering';
const CONSUL_TOKEN_SECRETS = {
  'cluster connection (automation token)': secretArn(clusterSecretName(PREFIX, 'dc1')),
  'gateway token': secretArn(gatewayTokenSecretName(PREFIX, 'dc1')),
  'peering token': secretArn(peeringTokenSecretName(PREFIX, 'dc1', 'dc2')),
};
const PEERING_RECORD = secretArn(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'));
const SLACK_RESPONSE = secretArn(slackResponseSecretName(PREFIX, 'slack-0b5e6f1c'));
const SIGNING_SECRET = secretArn(`${PREFIX}/slack/signing-secret`);
const SECRET_READS = ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'];
const SECRET_WRITES = [
  'secretsmanager:CreateSecret',
  'secretsmanager:PutSecretValue',
  'secretsmanager:DeleteSecret',
  'secretsmanager:TagResource',
];

describe('PeeringAutomationStack (defaults)', () => {
  const { template } = synthStack();
  const queueId = (name: string) => logicalId(template, 'AWS::SQS::Queue', name);
  const functionId = (name: string) => logicalId(template, 'AWS::Lambda::Function', name);
  const functionProps = (name: string) =>
    resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)]?.Properties ?? {};
  const queueArn = (name: string) => `${queueId(name)}.Arn`;
  const keyId = logicalId(template, 'AWS::KMS::Key', 'QueueKey');

  it('deploys one function per entry of FUNCTION_NAMES (the list the bundle report and bundling test use)', () => {
    expect(FUNCTIONS).toHaveLength(FUNCTION_NAMES.length);
    template.resourceCountIs('AWS::Lambda::Function', FUNCTION_NAMES.length);
  });

  it('creates the five queues and a rotating KMS key for them', () => {
    template.resourceCountIs('AWS::SQS::Queue', 5);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it.each(QUEUES)('encrypts %s with our key', (name) => {
    expect(resourcesOf(template, 'AWS::SQS::Queue')[queueId(name)]?.Properties.KmsMasterKeyId).toEqual(
      getAtt(keyId),
    );
  });

  it.each(QUEUES)('gives %s a queue policy that denies any request not over TLS', (name) => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId(name) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it.each([...WORK_QUEUES, 'OutcomeQueue'])(
    'redrives %s to the dead-letter queue after 5 receives',
    (name) => {
      expect(resourcesOf(template, 'AWS::SQS::Queue')[queueId(name)]?.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: getAtt(queueId('DeadLetterQueue')),
        maxReceiveCount: 5,
      });
    },
  );

  it('keeps dead letters longer than any source queue keeps messages, and does not redrive them', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    const dlq = queues[queueId('DeadLetterQueue')]?.Properties;
    expect(dlq?.RedrivePolicy).toBeUndefined();
    expect(dlq?.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const name of WORK_QUEUES) {
      expect(queues[queueId(name)]?.Properties.MessageRetentionPeriod).toBeLessThan(14 * 24 * 3600);
    }
  });

  it('feeds each queue-fed function from its own queue with partial batch responses, small batches and a concurrency cap', () => {
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(4);
    const found = mappings.map((mapping) => [
      (mapping.Properties.FunctionName as { Ref: string }).Ref,
      (mapping.Properties.EventSourceArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
      mapping.Properties.BatchSize,
    ]);
    expect(found.sort()).toEqual(
      [
        [functionId('AcceptPeeringFunction'), queueId('AcceptPeeringQueue'), 5],
        [functionId('DialPeeringFunction'), queueId('DialPeeringQueue'), 1],
        [functionId('OnboardClusterFunction'), queueId('OnboardClusterQueue'), 5],
        // notify-outcome consumes the outcomes queue (peering.established / peering.failed).
        [functionId('NotifyOutcomeFunction'), queueId('OutcomeQueue'), 10],
      ].sort(),
    );
    for (const mapping of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      const scaling = mapping.Properties.ScalingConfig as { MaximumConcurrency: number };
      expect(scaling.MaximumConcurrency).toBeGreaterThanOrEqual(2);
      expect(scaling.MaximumConcurrency).toBeLessThanOrEqual(5);
    }
  });

  it('gives the outcomes queue a visibility timeout of 6x the notifier timeout', () => {
    const queue = resourcesOf(template, 'AWS::SQS::Queue')[queueId('OutcomeQueue')]?.Properties;
    expect(queue?.VisibilityTimeout).toBe(6 * (functionProps('NotifyOutcomeFunction').Timeout as number));
  });

  it('sets each consumed queue visibility timeout to at least 6x its consumer timeout', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    const functions = resourcesOf(template, 'AWS::Lambda::Function');
    for (const mapping of Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping'))) {
      const fn = functions[(mapping.Properties.FunctionName as { Ref: string }).Ref];
      const queue =
        queues[(mapping.Properties.EventSourceArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0] as string];
      expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * (fn?.Properties.Timeout as number),
      );
    }
  });

  it.each(FUNCTIONS)('runs %s on nodejs22.x, arm64, traced, with JSON logs in its own log group', (name) => {
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)]?.Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON' },
    });
    expect((fn?.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref).toMatch(
      new RegExp(`^${name}LogGroup`),
    );
    expect(fn?.VpcConfig).toBeUndefined();
  });

  it('sets log retention on every function log group', () => {
    const groups = Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'));
    expect(groups).toHaveLength(FUNCTIONS.length);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('gives the functions timeouts that fit their work (dial: establish + activation poll)', () => {
    const timeouts = Object.fromEntries(FUNCTIONS.map((name) => [name, functionProps(name).Timeout]));
    expect(timeouts).toEqual({
      OnboardClusterFunction: 45,
      AcceptPeeringFunction: 30,
      DialPeeringFunction: 60,
      // Ten records one after the other, each at most a 5 s post to Slack and two secret calls.
      NotifyOutcomeFunction: 60,
      // Slack stops waiting after 3 s.
      SlackCommandFunction: 10,
      // A scan of the whole fleet.
      DriftRemediationFunction: 300,
      // One rotation step: a few Consul and Secrets Manager calls.
      GatewayTokenRotationFunction: 30,
    });
  });

  it('reserves concurrency only for slack-command (a small cap on a public URL) and the drift scan (one at a time)', () => {
    const reserved = Object.fromEntries(
      FUNCTIONS.map((name) => [name, functionProps(name).ReservedConcurrentExecutions]),
    );
    expect(reserved).toEqual({
      OnboardClusterFunction: undefined,
      AcceptPeeringFunction: undefined,
      DialPeeringFunction: undefined,
      NotifyOutcomeFunction: undefined,
      SlackCommandFunction: 5,
      DriftRemediationFunction: 1,
    });
  });

  it('gives slack-command more memory than the pipeline, for a fast cold start', () => {
    expect(functionProps('SlackCommandFunction').MemorySize).toBeGreaterThanOrEqual(1024);
    expect(functionProps('OnboardClusterFunction').MemorySize).toBe(512);
  });

  it.each([...PIPELINE, 'DriftRemediationFunction'])(
    'wires %s to every queue and the secret prefix through its environment',
    (name) => {
      const variables = (
        resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)]?.Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(variables).toMatchObject({
        ONBOARD_QUEUE_URL: { Ref: queueId('OnboardClusterQueue') },
        ACCEPT_QUEUE_URL: { Ref: queueId('AcceptPeeringQueue') },
        DIAL_QUEUE_URL: { Ref: queueId('DialPeeringQueue') },
        OUTCOME_QUEUE_URL: { Ref: queueId('OutcomeQueue') },
        DEAD_LETTER_QUEUE_URL: { Ref: queueId('DeadLetterQueue') },
        SECRET_PREFIX: 'consul-peering',
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
    },
  );

  it('uses roles of our own, with no AWS managed policies', () => {
    for (const role of Object.values(resourcesOf(template, 'AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('wires notify-outcome to the secret prefix, the dead-letter queue and its own queue (for retry delays) only', () => {
    expect(functionProps('NotifyOutcomeFunction').Environment).toEqual({
      Variables: {
        SECRET_PREFIX: 'consul-peering',
        DEAD_LETTER_QUEUE_URL: { Ref: queueId('DeadLetterQueue') },
        OUTCOME_QUEUE_URL: { Ref: queueId('OutcomeQueue') },
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
  });

  it('wires slack-command to its signing secret, the (empty: fail closed) allow lists and the accept queue', () => {
    expect(functionProps('SlackCommandFunction').Environment).toEqual({
      Variables: {
        SLACK_SIGNING_SECRET_NAME: 'consul-peering/slack/signing-secret',
        SLACK_ALLOWED_USERS: '',
        SLACK_ALLOWED_CHANNELS: '',
        SECRET_PREFIX: 'consul-peering',
        ACCEPT_QUEUE_URL: { Ref: queueId('AcceptPeeringQueue') },
        SECRETS_KMS_KEY_ID: getAtt(keyId),
        LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
  });

  it('grants "*" only for X-Ray and for ListSecrets (slack-command and drift), which have no resource-level permissions', () => {
    const wildcards = statements(template).filter(({ statement }) => list(statement.Resource).includes('*'));
    expect(wildcards).toHaveLength(FUNCTIONS.length + 2);
    const listers: string[] = [];
    for (const { policy, statement } of wildcards) {
      expect(list(statement.Resource)).toEqual(['*']);
      const actions = list(statement.Action).sort();
      if (actions.includes('secretsmanager:ListSecrets')) {
        // In a policy of its own, so the role's acknowledged "*" (X-Ray) never covers it.
        expect(actions).toEqual(['secretsmanager:ListSecrets']);
        expect(policy).toMatch(/ListSecrets/);
        listers.push(policy);
      } else {
        expect(actions).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        expect(policy).toMatch(/RoleDefaultPolicy/);
      }
    }
    expect(listers.map((policy) => policy.replace(/FunctionListSecrets.*$/, '')).sort()).toEqual([
      'DriftRemediation',
      'SlackCommand',
    ]);
    expect(allows(template, functionId('SlackCommandFunction'), 'secretsmanager:ListSecrets', '*')).toBe(
      true,
    );
    expect(allows(template, functionId('DriftRemediationFunction'), 'secretsmanager:ListSecrets', '*')).toBe(
      true,
    );
    for (const name of [...PIPELINE, 'NotifyOutcomeFunction']) {
      expect(allows(template, functionId(name), 'secretsmanager:ListSecrets', '*')).toBe(false);
    }
  });

  it('grants no wildcard actions', () => {
    for (const { statement } of statements(template)) {
      for (const action of list(statement.Action)) expect(action).not.toMatch(/\*/);
    }
  });

  /** What a function may do to an example secret of each folder, read from the template's policies. */
  const FOLDER_EXAMPLES = {
    clusters: CONSUL_TOKEN_SECRETS['cluster connection (automation token)'],
    'gateway-tokens': CONSUL_TOKEN_SECRETS['gateway token'],
    'peering-tokens': CONSUL_TOKEN_SECRETS['peering token'],
    peerings: PEERING_RECORD,
    'slack-responses': SLACK_RESPONSE,
    slack: SIGNING_SECRET,
  };
  const ACCESS = {
    read: ['secretsmanager:GetSecretValue'],
    write: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
    // A new version: part of a write, and all the rotation function may add (never a new secret).
    version: ['secretsmanager:PutSecretValue'],
    labels: ['secretsmanager:UpdateSecretVersionStage'],
    'schedule-rotation': ['secretsmanager:RotateSecret'],
    delete: ['secretsmanager:DeleteSecret'],
  };
  function accessTable(name: string): Record<string, string> {
    const fn = functionId(name);
    return Object.fromEntries(
      Object.entries(FOLDER_EXAMPLES).map(([folder, arn]) => {
        const granted = Object.entries(ACCESS)
          .filter(([, actions]) => {
            const allowed = actions.map((action) => allows(template, fn, action, arn));
            // An access is all its actions or none of them: never half a write.
            expect(new Set(allowed).size).toBe(1);
            return allowed[0];
          })
          .map(([access]) => access);
        return [folder, granted.join('+') || '-'];
      }),
    );
  }

  it('grants each function exactly its access per secret folder (the IAM table of docs/deploy.md)', () => {
    expect(Object.fromEntries(FUNCTIONS.map((name) => [name, accessTable(name)]))).toEqual({
      OnboardClusterFunction: {
        clusters: 'read',
        'gateway-tokens': 'read+write+version+schedule-rotation',
        'peering-tokens': '-',
        peerings: '-',
        'slack-responses': '-',
        slack: '-',
      },
      AcceptPeeringFunction: {
        clusters: 'read',
        'gateway-tokens': '-',
        'peering-tokens': 'read+write+version',
        peerings: 'read+write+version',
        'slack-responses': '-',
        slack: '-',
      },
      DialPeeringFunction: {
        clusters: 'read',
        'gateway-tokens': '-',
        'peering-tokens': 'read',
        peerings: '-',
        'slack-responses': '-',
        slack: '-',
      },
      DriftRemediationFunction: {
        clusters: 'read',
        'gateway-tokens': 'read',
        'peering-tokens': 'read+delete',
        peerings: 'read',
        'slack-responses': '-',
        slack: '-',
      },
      NotifyOutcomeFunction: {
        clusters: '-',
        'gateway-tokens': '-',
        'peering-tokens': '-',
        peerings: '-',
        'slack-responses': 'read+delete',
        slack: '-',
      },
      SlackCommandFunction: {
        clusters: '-',
        'gateway-tokens': '-',
        'peering-tokens': '-',
        peerings: '-',
        'slack-responses': 'read+write+version+delete',
        slack: 'read',
      },
      GatewayTokenRotationFunction: {
        clusters: 'read',
        'gateway-tokens': 'read+version+labels',
        'peering-tokens': '-',
        peerings: '-',
        'slack-responses': '-',
        slack: '-',
      },
    });
  });

  it('lets only Secrets Manager of this account invoke the rotation function, and onboarding call it through RotateSecret', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      FunctionName: getAtt(functionId('GatewayTokenRotationFunction')),
    });
    const variables = (
      functionProps('OnboardClusterFunction').Environment as { Variables: Record<string, unknown> }
    ).Variables;
    expect(variables.ROTATION_FUNCTION_ARN).toEqual(getAtt(functionId('GatewayTokenRotationFunction')));
    expect(variables.ROTATION_AFTER_DAYS).toBe('30');
    for (const name of FUNCTIONS.filter((n) => n !== 'OnboardClusterFunction')) {
      const others = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(others.ROTATION_FUNCTION_ARN).toBeUndefined();
    }
  });

  it.each([...PIPELINE, 'DriftRemediationFunction', 'GatewayTokenRotationFunction'])(
    'gives %s one Secrets Manager statement per folder, none on the whole prefix',
    (name) => {
      const grants = grantsFor(template, functionId(name), 'secretsmanager').filter(
        (grant) => !grant.actions.includes('secretsmanager:ListSecrets'),
      );
      const folders = grants.flatMap((grant) => grant.resources);
      expect(new Set(folders).size).toBe(grants.length);
      for (const resource of folders) {
        expect(resource).toMatch(
          /^arn:aws:secretsmanager:eu-west-1:123456789012:secret:consul-peering\/(clusters|gateway-tokens|peering-tokens|peerings)\/\*$/,
        );
      }
    },
  );

  it.each([...PIPELINE, 'DriftRemediationFunction', 'GatewayTokenRotationFunction'])(
    'lets %s neither write clusters/* (only the operator does) nor read slack/*',
    (name) => {
      const fn = functionId(name);
      for (const action of [...SECRET_WRITES, 'secretsmanager:UpdateSecret']) {
        expect(
          allows(template, fn, action, CONSUL_TOKEN_SECRETS['cluster connection (automation token)']),
        ).toBe(false);
      }
      for (const arn of [SIGNING_SECRET, SLACK_RESPONSE, secretArn(`${PREFIX}/slack/anything`)]) {
        for (const action of SECRET_READS) expect(allows(template, fn, action, arn)).toBe(false);
      }
    },
  );

  it('gives each function only the KMS actions Secrets Manager needs for its secrets, on our key', () => {
    const secretsKey = (name: string) =>
      statementsOf(template, roleOf(template, functionId(name)))
        .filter((statement) => statement.Sid === 'SecretsKey')
        .map((statement) => ({ actions: list(statement.Action).sort(), resource: statement.Resource }));
    const read = [{ actions: ['kms:Decrypt'], resource: getAtt(keyId) }];
    const write = [{ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resource: getAtt(keyId) }];
    expect(Object.fromEntries(FUNCTIONS.map((name) => [name, secretsKey(name)]))).toEqual({
      OnboardClusterFunction: write,
      AcceptPeeringFunction: write,
      DialPeeringFunction: read,
      NotifyOutcomeFunction: read,
      SlackCommandFunction: write,
      DriftRemediationFunction: read,
      // Writes the new token as a version of the secret.
      GatewayTokenRotationFunction: write,
    });
    // Nothing else of KMS beyond what SQS producers need (the same two actions).
    const kmsActions = new Set(
      statements(template).flatMap(({ statement }) =>
        list(statement.Action).filter((action) => action.startsWith('kms:')),
      ),
    );
    expect([...kmsActions].sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it.each([...PIPELINE, 'DriftRemediationFunction', 'SlackCommandFunction'])(
    'tells %s to create its secrets under our key (SECRETS_KMS_KEY_ID)',
    (name) => {
      const variables = (functionProps(name).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.SECRETS_KMS_KEY_ID).toEqual(getAtt(keyId));
    },
  );

  it('grants notify-outcome GetSecretValue and DeleteSecret on <prefix>/slack-responses/* and nothing else of Secrets Manager', () => {
    const fn = functionId('NotifyOutcomeFunction');
    expect(grantsFor(template, fn, 'secretsmanager')).toEqual([
      {
        actions: ['secretsmanager:DeleteSecret', 'secretsmanager:GetSecretValue'],
        resources: ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:consul-peering/slack-responses/*'],
      },
    ]);
    expect(allows(template, fn, 'secretsmanager:GetSecretValue', SLACK_RESPONSE)).toBe(true);
    expect(allows(template, fn, 'secretsmanager:DeleteSecret', SLACK_RESPONSE)).toBe(true);
    for (const arn of [...Object.values(CONSUL_TOKEN_SECRETS), PEERING_RECORD, SIGNING_SECRET]) {
      for (const action of [...SECRET_READS, ...SECRET_WRITES])
        expect(allows(template, fn, action, arn)).toBe(false);
    }
  });

  describe('slack-command (public function URL)', () => {
    const fn = () => functionId('SlackCommandFunction');

    it('grants exactly: its signing secret (read), slack-responses (read, write, delete), ListSecrets', () => {
      expect(grantsFor(template, fn(), 'secretsmanager')).toEqual(
        expect.arrayContaining([
          {
            actions: ['secretsmanager:GetSecretValue'],
            resources: [
              'arn:aws:secretsmanager:eu-west-1:123456789012:secret:consul-peering/slack/signing-secret-??????',
            ],
          },
          {
            actions: [
              'secretsmanager:CreateSecret',
              'secretsmanager:DeleteSecret',
              'secretsmanager:GetSecretValue',
              'secretsmanager:PutSecretValue',
              'secretsmanager:TagResource',
            ],
            resources: [
              'arn:aws:secretsmanager:eu-west-1:123456789012:secret:consul-peering/slack-responses/*',
            ],
          },
          { actions: ['secretsmanager:ListSecrets'], resources: ['*'] },
        ]),
      );
      expect(grantsFor(template, fn(), 'secretsmanager')).toHaveLength(3);
      expect(allows(template, fn(), 'secretsmanager:GetSecretValue', SIGNING_SECRET)).toBe(true);
      for (const action of ['secretsmanager:GetSecretValue', ...SECRET_WRITES]) {
        expect(allows(template, fn(), action, SLACK_RESPONSE)).toBe(true);
      }
    });

    it.each(Object.entries(CONSUL_TOKEN_SECRETS))(
      'cannot read, change or delete a %s secret',
      (_kind, arn) => {
        for (const action of [...SECRET_READS, ...SECRET_WRITES]) {
          expect(allows(template, fn(), action, arn)).toBe(false);
        }
      },
    );

    it('reads only its own signing secret, not another secret whose name merely starts the same', () => {
      expect(
        allows(
          template,
          fn(),
          'secretsmanager:GetSecretValue',
          secretArn('consul-peering/slack/signing-secret-x'),
        ),
      ).toBe(false);
      expect(
        allows(
          template,
          fn(),
          'secretsmanager:GetSecretValue',
          secretArn('consul-peering/slack/signing-secret/x'),
        ),
      ).toBe(false);
      expect(allows(template, fn(), 'secretsmanager:PutSecretValue', SIGNING_SECRET)).toBe(false);
    });

    it('is the only function behind a function URL, and that URL is AuthType NONE', () => {
      const urls = Object.values(resourcesOf(template, 'AWS::Lambda::Url'));
      expect(urls).toHaveLength(1);
      expect(urls[0]?.Properties).toEqual({ AuthType: 'NONE', TargetFunctionArn: getAtt(fn()) });
    });

    it('lets anyone invoke it only through the URL (no public lambda:InvokeFunction without it)', () => {
      const publicPermissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission')).filter(
        (permission) => permission.Properties.Principal === '*',
      );
      expect(
        publicPermissions
          .map((permission) => permission.Properties)
          .sort((a, b) => String(a.Action).localeCompare(String(b.Action))),
      ).toEqual([
        {
          Action: 'lambda:InvokeFunction',
          FunctionName: getAtt(fn()),
          InvokedViaFunctionUrl: true,
          Principal: '*',
        },
        {
          Action: 'lambda:InvokeFunctionUrl',
          FunctionName: getAtt(fn()),
          FunctionUrlAuthType: 'NONE',
          Principal: '*',
        },
      ]);
    });
  });

  it('scopes KMS to our key and SQS to our queues', () => {
    const ourQueues = QUEUES.map((name) => getAtt(queueId(name)));
    for (const { statement } of statements(template)) {
      const actions = list(statement.Action);
      if (actions.some((action) => action.startsWith('kms:'))) {
        expect(actions.every((action) => action.startsWith('kms:'))).toBe(true);
        expect(list(statement.Resource)).toEqual([getAtt(keyId)]);
      }
      if (actions.some((action) => action.startsWith('sqs:'))) {
        expect(actions.every((action) => action.startsWith('sqs:'))).toBe(true);
        for (const resource of list(statement.Resource)) expect(ourQueues).toContainEqual(resource);
      }
    }
  });

  it('lets each function send only where it publishes', () => {
    const sendsTo = (name: string) =>
      QUEUES.filter((queue) => allows(template, functionId(name), 'sqs:SendMessage', queueArn(queue)));
    // Any step may publish any event type, and dead-letter.
    for (const name of PIPELINE) expect(sendsTo(name)).toEqual(QUEUES);
    expect(sendsTo('NotifyOutcomeFunction')).toEqual(['DeadLetterQueue']);
    expect(sendsTo('SlackCommandFunction')).toEqual(['AcceptPeeringQueue']);
    expect(sendsTo('DriftRemediationFunction')).toEqual(WORK_QUEUES);
  });

  it('lets each queue-fed function receive from its own queue only', () => {
    const receivesFrom = (name: string) =>
      QUEUES.filter((queue) => allows(template, functionId(name), 'sqs:ReceiveMessage', queueArn(queue)));
    expect(receivesFrom('NotifyOutcomeFunction')).toEqual(['OutcomeQueue']);
    expect(receivesFrom('OnboardClusterFunction')).toEqual(['OnboardClusterQueue']);
    expect(receivesFrom('SlackCommandFunction')).toEqual([]);
    expect(receivesFrom('DriftRemediationFunction')).toEqual([]);
  });

  it('alarms on dead letters, function errors, the age of each consumed queue, and slack-command throttles', () => {
    // DLQ; errors of the seven functions; oldest message of the three work queues and the outcomes queue;
    // slack-command throttles.
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1 + 7 + 4 + 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId('DeadLetterQueue'), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    for (const name of FUNCTIONS) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(name) } }],
        Threshold: 0,
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId('SlackCommandFunction') } }],
      Statistic: 'Sum',
      Threshold: 0,
    });
    for (const name of [...WORK_QUEUES, 'OutcomeQueue']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(name), 'QueueName'] } }],
        Threshold: 900,
      });
    }
    for (const alarm of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });

  it('has a dashboard with a row for every function, and the drift metrics in the namespace the function writes', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))[0]);
    for (const name of FUNCTIONS) expect(body).toContain(JSON.stringify({ Ref: functionId(name) }));
    expect(DRIFT_DEFAULTS.metricsNamespace).toBe(METRICS_NAMESPACE);
    expect(body).toContain(`\\"${METRICS_NAMESPACE}\\",\\"DriftFindings\\"`);
  });

  it('runs the drift scan on the default schedule (rate(1 hour)), one scan at a time, without retries', () => {
    const rules = Object.values(resourcesOf(template, 'AWS::Events::Rule'));
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Targets: [{ Arn: getAtt(functionId('DriftRemediationFunction')) }],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: getAtt(functionId('DriftRemediationFunction')),
      Principal: 'events.amazonaws.com',
      SourceArn: getAtt(logicalId(template, 'AWS::Events::Rule', 'DriftRemediationSchedule')),
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId('DriftRemediationFunction') },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 900,
    });
  });

  it('records no settings of undeployed functions in the template metadata any more', () => {
    expect(template.toJSON().Metadata).toBeUndefined();
  });

  it('outputs the Slack command URL and the drift function name', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.SlackCommandUrl?.Value).toEqual({
      'Fn::GetAtt': [
        logicalId(template, 'AWS::Lambda::Url', 'SlackCommandFunctionFunctionUrl'),
        'FunctionUrl',
      ],
    });
    expect(outputs.DriftFunctionName?.Value).toEqual({ Ref: functionId('DriftRemediationFunction') });
  });
});

describe('PeeringAutomationStack (drift schedule and Slack settings from context)', () => {
  const { template } = synthStack({
    context: {
      'consulPeering:driftSchedule': 'cron(0/15 * * * ? *)',
      'consulPeering:slackSigningSecretName': 'chatops/peering-signing-secret',
      'consulPeering:slackAllowedUserIds': 'U024BE7LH,W012A3CDE',
      'consulPeering:slackAllowedChannelIds': ['C024BE91L'],
    },
  });
  const functionId = (name: string) => logicalId(template, 'AWS::Lambda::Function', name);

  it('schedules the drift function with the context expression', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0/15 * * * ? *)',
      Targets: [Match.objectLike({ Arn: getAtt(functionId('DriftRemediationFunction')) })],
    });
  });

  it('passes the allow lists comma-joined and the signing secret name, and lets slack-command read only that secret', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SLACK_SIGNING_SECRET_NAME: 'chatops/peering-signing-secret',
          SLACK_ALLOWED_USERS: 'U024BE7LH,W012A3CDE',
          SLACK_ALLOWED_CHANNELS: 'C024BE91L',
        }),
      },
    });
    const fn = functionId('SlackCommandFunction');
    expect(
      allows(template, fn, 'secretsmanager:GetSecretValue', secretArn('chatops/peering-signing-secret')),
    ).toBe(true);
    expect(allows(template, fn, 'secretsmanager:GetSecretValue', SIGNING_SECRET)).toBe(false);
  });
});

describe('PeeringAutomationStack (VPC, existing key, alarm topic, prefix from context)', () => {
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';
  const { template } = synthStack({
    context: {
      ...NETWORK_CONTEXT,
      'consulPeering:kmsKeyArn': keyArn,
      'consulPeering:alarmTopicArn': topicArn,
      'consulPeering:secretPrefix': 'platform/peering',
      'consulPeering:maxReceiveCount': '9',
    },
  });

  it.each(IN_VPC)('places %s in the subnets and security groups from context', (name) => {
    const fn = resourcesOf(template, 'AWS::Lambda::Function')[
      logicalId(template, 'AWS::Lambda::Function', name)
    ];
    expect(fn?.Properties.VpcConfig).toEqual({
      SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      SecurityGroupIds: ['sg-0123456789abcdef0'],
    });
    // Lambda checks the ENI permissions when it creates the function.
    expect(fn?.DependsOn).toContain(logicalId(template, 'AWS::IAM::Policy', `${name}NetworkInterfaces`));
  });

  it.each(OUTSIDE_VPC)('keeps %s outside the VPC (it never talks to Consul)', (name) => {
    const id = logicalId(template, 'AWS::Lambda::Function', name);
    expect(resourcesOf(template, 'AWS::Lambda::Function')[id]?.Properties.VpcConfig).toBeUndefined();
    expect(
      Object.keys(resourcesOf(template, 'AWS::IAM::Policy')).some((policy) =>
        policy.startsWith(`${name}NetworkInterfaces`),
      ),
    ).toBe(false);
  });

  it.each([...IN_VPC, 'SlackCommandFunction'])(
    'tells %s to create its secrets under the given key',
    (name) => {
      const fn = resourcesOf(template, 'AWS::Lambda::Function')[
        logicalId(template, 'AWS::Lambda::Function', name)
      ];
      expect(
        (fn?.Properties.Environment as { Variables: Record<string, unknown> }).Variables.SECRETS_KMS_KEY_ID,
      ).toBe(keyArn);
    },
  );

  it('creates no security group and adds no rule to the imported ones', () => {
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
  });

  it('grants "*" only for X-Ray, ListSecrets and the ENI actions Lambda needs in a VPC', () => {
    const eniActions = [
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:UnassignPrivateIpAddresses',
    ];
    const xrayActions = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
    const wildcards = statements(template).filter(({ statement }) => list(statement.Resource).includes('*'));
    // X-Ray on the seven roles, ENIs for the five functions in the VPC, ListSecrets for two.
    expect(wildcards).toHaveLength(7 + 5 + 2);
    for (const { policy, statement } of wildcards) {
      const actions = list(statement.Action).sort();
      if (policy.includes('NetworkInterfaces')) expect(actions).toEqual(eniActions);
      else if (policy.includes('ListSecrets')) expect(actions).toEqual(['secretsmanager:ListSecrets']);
      else expect(actions).toEqual(xrayActions);
    }
  });

  it('uses the existing key for every queue and creates none', () => {
    template.resourceCountIs('AWS::KMS::Key', 0);
    for (const queue of Object.values(resourcesOf(template, 'AWS::SQS::Queue'))) {
      expect(queue.Properties.KmsMasterKeyId).toBe(keyArn);
    }
    const kmsStatements = statements(template).filter(({ statement }) =>
      list(statement.Action).some((action) => action.startsWith('kms:')),
    );
    expect(kmsStatements.length).toBeGreaterThan(0);
    for (const { statement } of kmsStatements) expect(list(statement.Resource)).toEqual([keyArn]);
  });

  it('uses maxReceiveCount from context', () => {
    for (const queue of Object.values(resourcesOf(template, 'AWS::SQS::Queue'))) {
      const redrive = queue.Properties.RedrivePolicy as { maxReceiveCount: number } | undefined;
      if (redrive) expect(redrive.maxReceiveCount).toBe(9);
    }
  });

  it('scopes secrets to the configured prefix and passes it to the functions', () => {
    const secretStatements = statements(template).filter(({ statement }) =>
      list(statement.Action).includes('secretsmanager:GetSecretValue'),
    );
    expect(secretStatements.length).toBeGreaterThan(0);
    for (const { statement } of secretStatements) {
      expect(JSON.stringify(statement.Resource)).toContain(':secret:platform/peering/');
    }
    // The slack function follows the prefix too, and still cannot read a cluster secret under it.
    const slack = logicalId(template, 'AWS::Lambda::Function', 'SlackCommandFunction');
    expect(
      allows(
        template,
        slack,
        'secretsmanager:GetSecretValue',
        secretArn('platform/peering/slack/signing-secret'),
      ),
    ).toBe(true);
    expect(
      allows(
        template,
        slack,
        'secretsmanager:CreateSecret',
        secretArn('platform/peering/slack-responses/r1'),
      ),
    ).toBe(true);
    expect(
      allows(template, slack, 'secretsmanager:GetSecretValue', secretArn('platform/peering/clusters/dc1')),
    ).toBe(false);
    expect(
      allows(template, slack, 'secretsmanager:CreateSecret', secretArn('consul-peering/slack-responses/r1')),
    ).toBe(false);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SECRET_PREFIX: 'platform/peering' }) },
    });
  });

  it('notifies the alarm topic on ALARM and OK', () => {
    for (const alarm of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
      expect(alarm.Properties.OKActions).toEqual([topicArn]);
    }
  });
});

describe('PeeringAutomationStack configuration errors', () => {
  it('fails synth with the context key and what it expects', () => {
    expect(() => synthStack({ context: { 'consulPeering:subnetIds': 'subnet-1' } })).toThrow(
      /context key "consulPeering:subnetIds": expected subnet ids like "subnet-0123456789abcdef0"/,
    );
  });

  it('refuses a Slack signing secret under the prefix outside <prefix>/slack/ (slack-command would be able to read it)', () => {
    expect(() =>
      synthStack({ context: { 'consulPeering:slackSigningSecretName': 'consul-peering/clusters/dc1' } }),
    ).toThrow(
      /"consulPeering:slackSigningSecretName": a signing secret under the secret prefix must be in "consul-peering\/slack\/"/,
    );
  });

  it('fails synth when the network is only partly given', () => {
    expect(() => synthStack({ context: { 'consulPeering:vpcId': 'vpc-0123456789abcdef0' } })).toThrow(
      /go together/,
    );
  });
});
