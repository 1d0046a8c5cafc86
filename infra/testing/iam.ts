import type { Template } from 'aws-cdk-lib/assertions';

/**
 * A small evaluator of the identity policies in a synthesized template, so tests can ask "may this
 * function's role do X on Y?" about concrete ARNs instead of comparing policy JSON. It renders
 * intrinsics to strings (pseudo parameters to example values, `Ref`/`Fn::GetAtt` of our resources to
 * `<logicalId>` / `<logicalId>.<attribute>`), then matches actions and resources with IAM's `*`/`?`
 * wildcards. Explicit denies win. Conditions are not evaluated: a statement with one fails the test,
 * so that a condition never makes a grant look narrower (or wider) than the evaluator thinks.
 */

export const EXAMPLE_ENV = { partition: 'aws', region: 'eu-west-1', account: '123456789012' } as const;

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const PSEUDO: Record<string, string> = {
  'AWS::Partition': EXAMPLE_ENV.partition,
  'AWS::Region': EXAMPLE_ENV.region,
  'AWS::AccountId': EXAMPLE_ENV.account,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** A template value as a string: literals as they are, intrinsics rendered as documented above. */
export function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>;
    if ('Ref' in object) {
      const id = String(object.Ref);
      return PSEUDO[id] ?? id;
    }
    if ('Fn::GetAtt' in object) return (object['Fn::GetAtt'] as string[]).join('.');
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(render).join(separator);
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** An example secret ARN: the name, a dash and six random characters, as Secrets Manager makes them. */
export const secretArn = (name: string): string =>
  `arn:${EXAMPLE_ENV.partition}:secretsmanager:${EXAMPLE_ENV.region}:${EXAMPLE_ENV.account}:secret:${name}-AbC123`;

const wildcard = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
    'i',
  );

/** The logical id of a function's execution role. */
export function roleOf(template: Template, functionLogicalId: string): string {
  const fn = (template.findResources('AWS::Lambda::Function') as Record<string, Resource>)[functionLogicalId];
  if (fn === undefined) throw new Error(`no function ${functionLogicalId}`);
  const role = fn.Properties.Role as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

/** Every statement of the identity policies attached to the role: inline, and AWS::IAM::Policy resources. */
export function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const found: Statement[] = [];
  const role = (template.findResources('AWS::IAM::Role') as Record<string, Resource>)[roleLogicalId];
  if (role === undefined) throw new Error(`no role ${roleLogicalId}`);
  for (const inline of (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]) {
    found.push(...inline.PolicyDocument.Statement);
  }
  for (const policy of Object.values(
    template.findResources('AWS::IAM::Policy') as Record<string, Resource>,
  )) {
    const roles = (policy.Properties.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((ref) => ref.Ref === roleLogicalId)) continue;
    found.push(...(policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  }
  return found;
}

const matches = (statement: Statement, action: string, resource: string): boolean => {
  if (statement.Condition !== undefined) {
    throw new Error(`the evaluator does not evaluate conditions: ${JSON.stringify(statement)}`);
  }
  return (
    list(statement.Action).some((pattern) => wildcard(pattern).test(action)) &&
    list(statement.Resource).some((pattern) => wildcard(render(pattern)).test(resource))
  );
};

/** Whether the identity policies of the function's role allow `action` on `resource`. */
export function allows(
  template: Template,
  functionLogicalId: string,
  action: string,
  resource: string,
): boolean {
  const statements = statementsOf(template, roleOf(template, functionLogicalId));
  if (statements.some((s) => s.Effect === 'Deny' && matches(s, action, resource))) return false;
  return statements.some((s) => s.Effect === 'Allow' && matches(s, action, resource));
}

/** The actions of a service (`secretsmanager:`) the role is granted, each with its rendered resources. */
export function grantsFor(
  template: Template,
  functionLogicalId: string,
  service: string,
): { actions: string[]; resources: string[] }[] {
  return statementsOf(template, roleOf(template, functionLogicalId))
    .filter((s) => s.Effect === 'Allow' && list(s.Action).some((action) => action.startsWith(`${service}:`)))
    .map((s) => ({ actions: list(s.Action).sort(), resources: list(s.Resource).map(render).sort() }));
}
