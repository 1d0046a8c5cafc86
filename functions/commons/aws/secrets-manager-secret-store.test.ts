import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  ListSecretsCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { isRetryable } from '#commons/errors';
import { SecretsManagerError, SecretsManagerSecretStore } from './secrets-manager-secret-store';

const sm = mockClient(SecretsManagerClient);
const store = (): SecretsManagerSecretStore => new SecretsManagerSecretStore({ region: 'us-east-1' });

const notFound = (): ResourceNotFoundException =>
  new ResourceNotFoundException({
    message: "Secrets Manager can't find the specified secret.",
    $metadata: {},
  });
const serviceError = (name: string, message: string, fault: 'client' | 'server' = 'client') =>
  new SecretsManagerServiceException({ name, message, $fault: fault, $metadata: { httpStatusCode: 400 } });

beforeEach(() => {
  sm.reset();
});

describe('put', () => {
  test('creates an absent secret with its description and tags', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ Name: 'peering/dc1', VersionId: 'v1' });

    await expect(
      store().put('peering/dc1', 'token', { description: 'peering token', tags: { cluster: 'dc1' } }),
    ).resolves.toEqual({ versionId: 'v1', changed: true });
    expect(sm.commandCalls(CreateSecretCommand)[0]?.args[0].input).toEqual({
      Name: 'peering/dc1',
      SecretString: 'token',
      Description: 'peering token',
      Tags: [{ Key: 'cluster', Value: 'dc1' }],
    });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  test('writes nothing when the current value is the same, so a replay adds no version', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'peering/dc1', VersionId: 'v1', SecretString: 'token' });

    await expect(store().put('peering/dc1', 'token')).resolves.toEqual({ versionId: 'v1', changed: false });
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(sm.commandCalls(CreateSecretCommand)).toHaveLength(0);
  });

  test('adds a version when the value differs', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'peering/dc1', VersionId: 'v1', SecretString: 'old' });
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'v2' });

    await expect(store().put('peering/dc1', 'new')).resolves.toEqual({ versionId: 'v2', changed: true });
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'peering/dc1',
      SecretString: 'new',
    });
  });

  test('adds a version when the secret exists without a value or was created concurrently', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).rejects(new ResourceExistsException({ message: 'exists', $metadata: {} }));
    sm.on(PutSecretValueCommand).resolves({ VersionId: 'v1' });

    await expect(store().put('peering/dc1', 'token')).resolves.toEqual({ versionId: 'v1', changed: true });
  });

  test('surfaces throttling as a retryable error that names the operation and the secret', async () => {
    sm.on(GetSecretValueCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'));

    const error: unknown = await store()
      .put('peering/dc1', 'token')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretsManagerError);
    expect(error).toMatchObject({
      retryable: true,
      reason: 'secrets-manager.ThrottlingException',
      operation: 'GetSecretValue',
      secretName: 'peering/dc1',
    });
    expect((error as Error).message).toBe(
      "Secrets Manager GetSecretValue failed for secret 'peering/dc1': ThrottlingException: Rate exceeded",
    );
    expect(isRetryable(error)).toBe(true);
  });

  test('never lets the secret value into an error message', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'x', VersionId: 'v1', SecretString: 'old' });
    sm.on(PutSecretValueCommand).rejects(
      serviceError('ValidationException', 'Value s3cr3t-t0ken at secretString failed to satisfy constraint'),
    );

    const error = (await store()
      .put('x', 's3cr3t-t0ken')
      .catch((e: unknown) => e)) as SecretsManagerError;
    expect(error.message).not.toContain('s3cr3t-t0ken');
    expect(error.message).toContain('[message withheld]');
    expect(error.cause).toBeUndefined();
    expect(error.retryable).toBe(false);
  });
});

describe('get', () => {
  test('reads the current version by default, named by its label', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'conn/dc1', VersionId: 'v2', SecretString: 'two' });

    await expect(store().get('conn/dc1')).resolves.toEqual({
      name: 'conn/dc1',
      versionId: 'v2',
      value: 'two',
    });
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'conn/dc1',
      VersionStage: 'AWSCURRENT',
    });
  });

  test('passes the version id and stage through', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'conn/dc1', VersionId: 'v1', SecretString: 'one' });

    await store().get('conn/dc1', { versionId: 'v1' });
    await store().get('conn/dc1', { versionStage: 'AWSPREVIOUS' });
    expect(sm.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: 'conn/dc1', VersionId: 'v1' },
      { SecretId: 'conn/dc1', VersionStage: 'AWSPREVIOUS' },
    ]);
  });

  test('returns undefined for an absent secret or version', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    await expect(store().get('conn/absent')).resolves.toBeUndefined();
  });

  test('reports a permission error as permanent', async () => {
    sm.on(GetSecretValueCommand).rejects(serviceError('AccessDeniedException', 'not authorized'));

    await expect(store().get('conn/dc1')).rejects.toMatchObject({
      retryable: false,
      reason: 'secrets-manager.AccessDeniedException',
    });
  });

  test('treats server faults and network failures as retryable', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(serviceError('InternalServiceError', 'boom', 'server'))
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' }));

    await expect(store().get('conn/dc1')).rejects.toMatchObject({ retryable: true });
    await expect(store().get('conn/dc1')).rejects.toMatchObject({
      retryable: true,
      reason: 'secrets-manager.Error',
    });
  });

  test('refuses a binary secret', async () => {
    sm.on(GetSecretValueCommand).resolves({
      Name: 'bin',
      VersionId: 'v1',
      SecretBinary: new Uint8Array([1]),
    });
    await expect(store().get('bin')).rejects.toMatchObject({ retryable: false });
  });
});

describe('list', () => {
  test('filters by name and tags server-side, then checks exact tag pairs, across pages', async () => {
    sm.on(ListSecretsCommand)
      .resolvesOnce({
        SecretList: [
          {
            Name: 'peering/a',
            Tags: [
              { Key: 'owner', Value: 'cpa' },
              { Key: 'cluster', Value: 'dc1' },
            ],
          },
          // key and value both present, but not as a pair
          {
            Name: 'peering/b',
            Tags: [
              { Key: 'owner', Value: 'dc1' },
              { Key: 'cluster', Value: 'cpa' },
            ],
          },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        SecretList: [
          {
            Name: 'peering/c',
            Tags: [
              { Key: 'owner', Value: 'cpa' },
              { Key: 'cluster', Value: 'dc1' },
            ],
          },
          {
            Name: 'PEERING/d',
            Tags: [
              { Key: 'owner', Value: 'cpa' },
              { Key: 'cluster', Value: 'dc1' },
            ],
          },
        ],
      });

    await expect(
      store().list({ namePrefix: 'peering/', tags: { owner: 'cpa', cluster: 'dc1' } }),
    ).resolves.toEqual([
      { name: 'peering/a', tags: { owner: 'cpa', cluster: 'dc1' } },
      { name: 'peering/c', tags: { owner: 'cpa', cluster: 'dc1' } },
    ]);
    const inputs = sm.commandCalls(ListSecretsCommand).map((call) => call.args[0].input);
    expect(inputs[0]).toEqual({
      Filters: [
        { Key: 'name', Values: ['peering/'] },
        { Key: 'tag-key', Values: ['owner', 'cluster'] },
        { Key: 'tag-value', Values: ['cpa', 'dc1'] },
      ],
      MaxResults: 100,
    });
    expect(inputs[1]?.NextToken).toBe('page-2');
  });

  test('keeps values a filter cannot express (negation, other characters) to the client-side check', async () => {
    sm.on(ListSecretsCommand).resolves({
      SecretList: [
        { Name: 'a', Tags: [{ Key: 'note', Value: '!not, negated' }] },
        { Name: 'b', Tags: [] },
      ],
    });

    await expect(store().list({ tags: { note: '!not, negated' } })).resolves.toEqual([
      { name: 'a', tags: { note: '!not, negated' } },
    ]);
    expect(sm.commandCalls(ListSecretsCommand)[0]?.args[0].input.Filters).toEqual([
      { Key: 'tag-key', Values: ['note'] },
    ]);
  });

  test('surfaces throttling', async () => {
    sm.on(ListSecretsCommand).rejects(serviceError('ThrottlingException', 'Rate exceeded'));
    await expect(store().list({ namePrefix: 'peering/' })).rejects.toMatchObject({
      retryable: true,
      message:
        "Secrets Manager ListSecrets failed for secret 'peering/*': ThrottlingException: Rate exceeded",
    });
  });
});

describe('delete', () => {
  test('passes ForceDeleteWithoutRecovery through', async () => {
    sm.on(DeleteSecretCommand).resolves({});
    await store().delete('conn/dc1', { forceWithoutRecovery: true });
    await store().delete('conn/dc2');
    expect(sm.commandCalls(DeleteSecretCommand).map((call) => call.args[0].input)).toEqual([
      { SecretId: 'conn/dc1', ForceDeleteWithoutRecovery: true },
      { SecretId: 'conn/dc2' },
    ]);
  });

  test('is a no-op for an absent secret', async () => {
    sm.on(DeleteSecretCommand).rejects(notFound());
    await expect(store().delete('conn/absent')).resolves.toBeUndefined();
  });

  test('is a no-op for a secret already scheduled for deletion', async () => {
    sm.on(DeleteSecretCommand).rejects(
      new InvalidRequestException({ message: 'marked deleted', $metadata: {} }),
    );
    sm.on(DescribeSecretCommand).resolves({ Name: 'conn/dc1', DeletedDate: new Date() });
    await expect(store().delete('conn/dc1')).resolves.toBeUndefined();
  });

  test('surfaces other invalid requests', async () => {
    sm.on(DeleteSecretCommand).rejects(new InvalidRequestException({ message: 'replicated', $metadata: {} }));
    sm.on(DescribeSecretCommand).resolves({ Name: 'conn/dc1' });
    await expect(store().delete('conn/dc1')).rejects.toMatchObject({
      retryable: false,
      reason: 'secrets-manager.InvalidRequestException',
    });
  });
});

test('accepts an existing client', async () => {
  const client = new SecretsManagerClient({ region: 'eu-west-1' });
  sm.on(GetSecretValueCommand).rejects(notFound());
  await new SecretsManagerSecretStore(client).get('x');
  expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
});

describe('rotation', () => {
  const ARN = 'arn:aws:lambda:us-east-1:111111111111:function:rotate';

  test('enableRotation schedules the function without rotating now, and only once', async () => {
    sm.on(DescribeSecretCommand).resolvesOnce({ Name: 'gw/dc1' });
    sm.on(RotateSecretCommand).resolves({});
    await expect(store().enableRotation('gw/dc1', { functionArn: ARN, afterDays: 30 })).resolves.toBe(true);
    expect(sm.commandCalls(RotateSecretCommand)[0]?.args[0].input).toEqual({
      SecretId: 'gw/dc1',
      RotationLambdaARN: ARN,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: false,
    });

    sm.on(DescribeSecretCommand).resolves({
      Name: 'gw/dc1',
      RotationEnabled: true,
      RotationLambdaARN: ARN,
      RotationRules: { AutomaticallyAfterDays: 30 },
    });
    await expect(store().enableRotation('gw/dc1', { functionArn: ARN, afterDays: 30 })).resolves.toBe(false);
    expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(1);
  });

  test('putPending writes the version labelled AWSPENDING under its request token; a replay is a no-op', async () => {
    sm.on(PutSecretValueCommand).resolvesOnce({ VersionId: 'v2' });
    await store().putPending('gw/dc1', 'v2', 'new');
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'gw/dc1',
      ClientRequestToken: 'v2',
      SecretString: 'new',
      VersionStages: ['AWSPENDING'],
    });

    sm.on(PutSecretValueCommand).rejects(new ResourceExistsException({ message: 'in use', $metadata: {} }));
    sm.on(GetSecretValueCommand).resolves({ Name: 'gw/dc1', VersionId: 'v2', SecretString: 'new' });
    await expect(store().putPending('gw/dc1', 'v2', 'new')).resolves.toBeUndefined();
    await expect(store().putPending('gw/dc1', 'v2', 'other')).rejects.toThrow(
      "Secrets Manager PutSecretValue failed for secret 'gw/dc1'",
    );
  });

  test('promote moves AWSCURRENT from the current version and drops AWSPENDING', async () => {
    sm.on(DescribeSecretCommand).resolves({
      Name: 'gw/dc1',
      VersionIdsToStages: { v1: ['AWSCURRENT'], v2: ['AWSPENDING'] },
    });
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    await store().promote('gw/dc1', 'v2');
    expect(sm.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'gw/dc1', VersionStage: 'AWSCURRENT', MoveToVersionId: 'v2', RemoveFromVersionId: 'v1' },
      { SecretId: 'gw/dc1', VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v2' },
    ]);
  });

  test('rotateNow rotates immediately with the function the secret has, and answers the new version id', async () => {
    sm.on(DescribeSecretCommand).resolves({ Name: 'gw/dc1', RotationEnabled: true, RotationLambdaARN: ARN });
    sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });
    await expect(store().rotateNow('gw/dc1')).resolves.toBe('v2');
    expect(sm.commandCalls(RotateSecretCommand)[0]?.args[0].input).toEqual({
      SecretId: 'gw/dc1',
      RotateImmediately: true,
    });
  });

  test('rotateNow on a secret without a rotation function says how to give it one, and rotates nothing', async () => {
    sm.on(DescribeSecretCommand).resolves({ Name: 'gw/dc1' });
    await expect(store().rotateNow('gw/dc1')).rejects.toThrow(
      /secret gw\/dc1 has no rotation function: onboarding turns rotation on when the stack sets ROTATION_FUNCTION_ARN/,
    );
    expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
  });

  test('a version without a value yet (made by RotateSecret) reads as absent', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: 'gw/dc1', VersionId: 'v2' });
    await expect(store().get('gw/dc1', { versionId: 'v2' })).resolves.toBeUndefined();
  });
});
