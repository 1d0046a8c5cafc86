import { Match, type Template } from 'aws-cdk-lib/assertions';
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
const FUNCTIONS = ['OnboardClusterFunction', 'AcceptPeeringFunction', 'DialPeeringFunction'];

describe('PeeringAutomationStack (defaults)', () => {
  const { template } = synthStack();
  const queueId = (name: string) => logicalId(template, 'AWS::SQS::Queue', name);
  const functionId = (name: string) => logicalId(template, 'AWS::Lambda::Function', name);
  const keyId = logicalId(template, 'AWS::KMS::Key', 'QueueKey');

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

  it('feeds each function from its own queue with partial batch responses, small batches and a concurrency cap', () => {
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(3);
    const pairs = mappings.map((mapping) => [
      (mapping.Properties.FunctionName as { Ref: string }).Ref,
      (mapping.Properties.EventSourceArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    ]);
    expect(pairs.sort()).toEqual(
      [
        [functionId('AcceptPeeringFunction'), queueId('AcceptPeeringQueue')],
        [functionId('DialPeeringFunction'), queueId('DialPeeringQueue')],
        [functionId('OnboardClusterFunction'), queueId('OnboardClusterQueue')],
      ].sort(),
    );
    for (const mapping of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.BatchSize).toBeLessThanOrEqual(5);
      const scaling = mapping.Properties.ScalingConfig as { MaximumConcurrency: number };
      expect(scaling.MaximumConcurrency).toBeGreaterThanOrEqual(2);
      expect(scaling.MaximumConcurrency).toBeLessThanOrEqual(5);
    }
  });

  it('sets each work queue visibility timeout to at least 6x its consumer timeout', () => {
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
    expect(groups).toHaveLength(3);
    for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
  });

  it('gives the functions timeouts that fit their work (dial: establish + activation poll)', () => {
    const timeouts = Object.fromEntries(
      FUNCTIONS.map((name) => [
        name,
        resourcesOf(template, 'AWS::Lambda::Function')[functionId(name)]?.Properties.Timeout,
      ]),
    );
    expect(timeouts).toEqual({
      OnboardClusterFunction: 45,
      AcceptPeeringFunction: 30,
      DialPeeringFunction: 60,
    });
  });

  it.each(FUNCTIONS)('wires %s to every queue and the secret prefix through its environment', (name) => {
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
  });

  it('uses roles of our own, with no AWS managed policies', () => {
    for (const role of Object.values(resourcesOf(template, 'AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('grants "*" only for X-Ray, which has no resource-level permissions', () => {
    const wildcards = statements(template).filter(({ statement }) => list(statement.Resource).includes('*'));
    expect(wildcards).toHaveLength(3);
    for (const { statement } of wildcards) {
      expect(list(statement.Resource)).toEqual(['*']);
      expect(list(statement.Action).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  });

  it('grants no wildcard actions', () => {
    for (const { statement } of statements(template)) {
      for (const action of list(statement.Action)) expect(action).not.toMatch(/\*/);
    }
  });

  it('scopes Secrets Manager to secrets under the prefix, without delete or list', () => {
    const secretStatements = statements(template).filter(({ statement }) =>
      list(statement.Action).some((action) => action.startsWith('secretsmanager:')),
    );
    expect(secretStatements).toHaveLength(3);
    for (const { statement } of secretStatements) {
      expect(statement.Resource).toEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            ':secret:consul-peering/*',
          ],
        ],
      });
      expect(list(statement.Action).sort()).toEqual([
        'secretsmanager:CreateSecret',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:TagResource',
      ]);
    }
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

  it('lets every function send to all five queues (any step may publish any event type, and to the DLQ)', () => {
    const senders = statements(template).filter(({ statement }) =>
      list(statement.Action).includes('sqs:SendMessage'),
    );
    expect(senders).toHaveLength(3);
    for (const { statement } of senders) {
      expect(list(statement.Resource)).toHaveLength(5);
    }
  });

  it('alarms on dead letters, function errors and the age of each work queue', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 7);
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
    for (const name of WORK_QUEUES) {
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

  it('has a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('records the settings of the functions that are not deployed yet, and creates none of them', () => {
    expect(template.toJSON().Metadata).toEqual({
      ConsulPeeringAutomation: {
        driftSchedule: 'rate(1 hour)',
        slack: {
          signingSecretName: 'consul-peering/slack/signing-secret',
          allowedUserIds: [],
          allowedChannelIds: [],
        },
      },
    });
    template.resourceCountIs('AWS::Lambda::Function', 3);
    template.resourceCountIs('AWS::Events::Rule', 0);
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

  it.each(FUNCTIONS)('places %s in the subnets and security groups from context', (name) => {
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

  it('creates no security group and adds no rule to the imported ones', () => {
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 0);
  });

  it('grants "*" only for X-Ray and for the ENI actions Lambda needs in a VPC', () => {
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
    expect(wildcards).toHaveLength(6);
    for (const { policy, statement } of wildcards) {
      const actions = list(statement.Action).sort();
      if (policy.includes('NetworkInterfaces')) expect(actions).toEqual(eniActions);
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
    for (const { statement } of secretStatements) {
      expect(JSON.stringify(statement.Resource)).toContain(':secret:platform/peering/*');
    }
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

  it('fails synth when the network is only partly given', () => {
    expect(() => synthStack({ context: { 'consulPeering:vpcId': 'vpc-0123456789abcdef0' } })).toThrow(
      /go together/,
    );
  });
});
