import { randomUUID } from 'node:crypto';
import { ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { SecretBackedClusterDirectory, type ClusterConnection } from '#commons/clusters';
import { ConsulClient } from '#commons/consul/client';
import { clusterSecretName, gatewayTokenSecretName } from '#commons/naming';
import { ensureGatewayToken, type GatewayTokenSecret } from '#commons/workflows/ensure-gateway-token';
import {
  ROTATION_STEPS,
  rotateGatewayToken,
  type GatewayTokenRotationContext,
  type RotationStep,
} from '#commons/workflows/rotate-gateway-token';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMoto, type MotoServer } from '#devkit/moto';

// Gateway token rotation on moto (versions and staging labels) and a real Consul agent with ACLs on,
// each step called the way Secrets Manager calls the rotation function. moto runs no rotation
// Lambdas, so the test plays Secrets Manager: one ClientRequestToken per rotation, four steps.
const PREFIX = 'consul-peering';
const NAME = gatewayTokenSecretName(PREFIX, 'dc1');
const KEY = 'arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555';
let moto: MotoServer;
let dc1: LocalConsulCluster;
let sm: SecretsManagerClient;
let store: SecretsManagerSecretStore;
let automation: ConsulClient;
const clients: ConsulClient[] = [];

const client = (connection: ClusterConnection): ConsulClient => {
  const created = new ConsulClient({ ...connection, retry: { maxAttempts: 1 } });
  clients.push(created);
  return created;
};

beforeAll(async () => {
  moto = await startMoto();
  [dc1] = (await startConsulClusters(1)) as [LocalConsulCluster];
  sm = new SecretsManagerClient(moto.clientConfig);
  automation = client({ address: dc1.address, token: dc1.managementToken });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  sm.destroy();
  await Promise.all([dc1.stop(), moto.stop()]);
});

beforeEach(async () => {
  await moto.reset();
  store = new SecretsManagerSecretStore(sm, { kmsKeyId: KEY });
  await store.put(
    clusterSecretName(PREFIX, 'dc1'),
    JSON.stringify({ address: dc1.address, token: dc1.managementToken }),
  );
  await ensureGatewayToken(automation, store, {
    cluster: 'dc1',
    serviceName: 'mesh-gateway',
    secretPrefix: PREFIX,
  });
});

const context = (): GatewayTokenRotationContext => ({
  secrets: store,
  clusters: new SecretBackedClusterDirectory(store, client, PREFIX),
  withConsulAs: async (connection, token, use) => {
    const consul = client({ ...connection, token });
    try {
      return await use(consul);
    } finally {
      await consul.close();
    }
  },
  secretPrefix: PREFIX,
  log: { info: () => undefined, warn: () => undefined },
});

const step = (s: RotationStep, versionId: string) =>
  rotateGatewayToken({ secretId: NAME, versionId, step: s }, context());

async function token(selector: { versionStage?: string; versionId?: string }): Promise<GatewayTokenSecret> {
  const stored = await store.get(NAME, selector);
  if (stored === undefined) throw new Error(`${NAME} has no version ${JSON.stringify(selector)}`);
  return JSON.parse(stored.value) as GatewayTokenSecret;
}

/** Whether Consul accepts `secretId`: `GET /v1/acl/token/self` called with it. */
async function accepted(secretId: string): Promise<boolean> {
  try {
    await client({ address: dc1.address, token: secretId }).readOwnToken();
    return true;
  } catch {
    return false;
  }
}

const versionCount = async () =>
  (await sm.send(new ListSecretVersionIdsCommand({ SecretId: NAME, IncludeDeprecated: true }))).Versions
    ?.length ?? 0;

test('the four steps make a new token current; the previous one stays valid until the next rotation', async () => {
  const first = await token({ versionStage: 'AWSCURRENT' });
  const versionId = randomUUID();
  for (const s of ROTATION_STEPS) {
    await step(s, versionId);
    // A step run twice (Secrets Manager retries) changes nothing.
    const versions = await versionCount();
    await expect(step(s, versionId)).resolves.toMatchObject({ changed: false });
    expect(await versionCount()).toBe(versions);
  }
  const second = await token({ versionStage: 'AWSCURRENT' });
  expect(second.accessorId).not.toBe(first.accessorId);
  expect(await token({ versionStage: 'AWSPREVIOUS' })).toEqual(first);
  expect(await accepted(second.secretId)).toBe(true);
  expect(await accepted(first.secretId)).toBe(true);
  expect((await automation.readToken(second.accessorId))?.policies.map((p) => p.name)).toEqual([
    second.policyName,
  ]);

  const next = randomUUID();
  for (const s of ROTATION_STEPS) await step(s, next);
  const third = await token({ versionStage: 'AWSCURRENT' });
  expect(await token({ versionStage: 'AWSPREVIOUS' })).toEqual(second);
  expect(await accepted(third.secretId)).toBe(true);
  expect(await accepted(second.secretId)).toBe(true);
  // The token before the previous one is retired.
  expect(await accepted(first.secretId)).toBe(false);
  expect(await automation.readToken(first.accessorId)).toBeUndefined();
}, 60_000);

test('a failing testSecret leaves AWSCURRENT working, and the steps can be run again', async () => {
  const current = await token({ versionStage: 'AWSCURRENT' });
  const versionId = randomUUID();
  await step('createSecret', versionId);
  const pending = await token({ versionId });
  // The new token is lost in Consul before the test step.
  await automation.deleteToken(pending.accessorId);

  await expect(step('testSecret', versionId)).rejects.toThrow(
    'cluster dc1: Consul does not accept the new gateway token yet',
  );
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(current);
  expect(await accepted(current.secretId)).toBe(true);

  await step('setSecret', versionId);
  await step('testSecret', versionId);
  await step('finishSecret', versionId);
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(pending);
  expect(await accepted(pending.secretId)).toBe(true);
}, 60_000);
