import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { NETWORK_CONTEXT, synthStack } from '../testing/synth';

/** Unacknowledged AwsSolutions findings, as "rule: construct path". */
function findings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => `${violation.ruleName}: ${resource.constructPath ?? '?'}`),
  );
}

/** Every acknowledgement in the tree, as rule id → reasons. */
function acknowledgements(scope: IConstruct): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        const rule = id.replace(/^annotation::/i, '');
        found.set(rule, (found.get(rule) ?? new Set()).add(reason));
      }
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions checks', () => {
  it('finds nothing unacknowledged in the default stack', () => {
    const { app } = synthStack();
    expect(findings(app)).toEqual([]);
  });

  it('finds nothing unacknowledged with a VPC, an existing key and an alarm topic', () => {
    const { app } = synthStack({
      context: {
        ...NETWORK_CONTEXT,
        'consulPeering:kmsKeyArn':
          'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        'consulPeering:alarmTopicArn': 'arn:aws:sns:eu-west-1:123456789012:ops-alarms',
        'consulPeering:secretPrefix': 'platform/peering',
      },
    });
    expect(findings(app)).toEqual([]);
  });

  it('acknowledges only the reviewed rules, each with a reason', () => {
    const { app } = synthStack({ context: NETWORK_CONTEXT });
    const acknowledged = acknowledgements(app);
    const secretPattern = (folder: string) =>
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${folder}/*]`;
    expect([...acknowledged.keys()].filter((rule) => rule.startsWith('AwsSolutions-')).sort()).toEqual([
      'AwsSolutions-IAM5[Resource::*]',
      secretPattern('consul-peering/clusters'),
      secretPattern('consul-peering/gateway-tokens'),
      secretPattern('consul-peering/peering-tokens'),
      secretPattern('consul-peering/peerings'),
      secretPattern('consul-peering/slack-responses'),
      'AwsSolutions-L1',
    ]);
    // Four distinct "*" reasons: X-Ray on the roles, ENI actions on the VPC policies, and ListSecrets
    // (slack-command and drift-remediation, each saying why it lists).
    const wildcardReasons = [...(acknowledged.get('AwsSolutions-IAM5[Resource::*]') ?? [])];
    expect(wildcardReasons).toHaveLength(4);
    expect(wildcardReasons.filter((reason) => reason.includes('secretsmanager:ListSecrets'))).toHaveLength(2);
    // Two reasons for slack-responses/* (slack-command writes, notify-outcome reads and deletes).
    expect(acknowledged.get(secretPattern('consul-peering/slack-responses'))?.size).toBe(2);
    for (const reasons of acknowledged.values()) {
      for (const reason of reasons) expect(reason.length).toBeGreaterThan(60);
    }
  });

  it('is live: an insecure queue added to the stack is reported', () => {
    const { app, stack } = synthStack();
    new sqs.Queue(stack, 'PlainQueue');
    expect(findings(app)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-SQS3: Test/PlainQueue/Resource',
        'AwsSolutions-SQS4: Test/PlainQueue/Resource',
      ]),
    );
  });
});
