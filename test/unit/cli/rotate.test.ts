import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { peerctl } from './run-peerctl';

// `peerctl rotate --aws` against a stubbed Secrets Manager: moto cannot run the rotation Lambda that
// RotateSecret invokes (its Lambda backend needs Docker), so the deployed path is pinned here and the
// four steps themselves on moto and real Consul (test/integration/rotation.test.ts). The local path
// runs against real Consul in test/integration/peerctl.test.ts.
const sm = mockClient(SecretsManagerClient);
const ARN = 'arn:aws:lambda:us-east-1:111111111111:function:rotate-gateway-token';
const TOKEN = '0d5e4c1a-2b3c-4d5e-8f90-123456789abc';
const env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

beforeEach(() => {
  sm.reset();
  sm.on(GetSecretValueCommand, { SecretId: 'consul-peering/clusters/dc1' }).resolves({
    Name: 'consul-peering/clusters/dc1',
    VersionId: 'c1',
    SecretString: JSON.stringify({ address: 'https://consul.dc1:8501', token: TOKEN }),
  });
});

const described = (stages: Record<string, string[]>) => ({
  Name: 'consul-peering/gateway-tokens/dc1',
  RotationEnabled: true,
  RotationLambdaARN: ARN,
  VersionIdsToStages: stages,
});

test('--aws asks Secrets Manager to rotate now and waits until AWSCURRENT is the new version', async () => {
  sm.on(DescribeSecretCommand)
    .resolvesOnce(described({ v1: ['AWSCURRENT'] }))
    .resolvesOnce(described({ v1: ['AWSCURRENT'] }))
    .resolvesOnce(described({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }))
    .resolves(described({ v1: ['AWSPREVIOUS'], v2: ['AWSCURRENT'] }));
  sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });

  const run = await peerctl(['rotate', 'dc1', '--aws', '--json'], env);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toEqual({
    cluster: 'dc1',
    secretName: 'consul-peering/gateway-tokens/dc1',
    currentVersion: 'v2',
    previousVersion: 'v1',
  });
  expect(run.stderr).toMatch(/consul-peering\/gateway-tokens\/dc1: version v2 is AWSPENDING/);
  expect(sm.commandCalls(RotateSecretCommand).map((c) => c.args[0].input)).toEqual([
    { SecretId: 'consul-peering/gateway-tokens/dc1', RotateImmediately: true },
  ]);
  expect(`${run.stdout}\n${run.stderr}`).not.toContain(TOKEN);
});

test('--aws: a rotation that does not finish in time exits 1 and says AWSCURRENT still works', async () => {
  sm.on(DescribeSecretCommand).resolves(described({ v1: ['AWSCURRENT'], v2: ['AWSPENDING'] }));
  sm.on(RotateSecretCommand).resolves({ VersionId: 'v2' });
  const run = await peerctl(['rotate', 'dc1', '--aws', '--timeout', '1'], env);
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(
    /AWSCURRENT did not move to version v2 within 1s; it is still version v1 and works\. See the rotation function's log/,
  );
});

test('bad input exits 2 before anything rotates: no cluster, an unknown one, one not onboarded', async () => {
  const missing = await peerctl(['rotate'], env);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toMatch(/<cluster>/);

  sm.on(GetSecretValueCommand, { SecretId: 'consul-peering/clusters/dc9' }).rejects(
    Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }),
  );
  const unknown = await peerctl(['rotate', 'dc9', '--aws'], env);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/unknown cluster "dc9"/);

  sm.on(DescribeSecretCommand).rejects(
    Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }),
  );
  const notOnboarded = await peerctl(['rotate', 'dc1', '--aws'], env);
  expect(notOnboarded.code).toBe(2);
  expect(notOnboarded.stderr).toMatch(
    /"dc1" has no gateway token yet \(no consul-peering\/gateway-tokens\/dc1\)/,
  );
  expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
});
