import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError, ValidationError } from '../errors';
import { FileSecretStore } from '../local/file-secret-store';
import { gatewayTokenSecretName } from '../naming';
import { ensureGatewayToken, type GatewayTokenSecret } from './ensure-gateway-token';
import { memoryConsul, type MemoryConsul } from './memory-consul.test-support';
import {
  ROTATION_STEPS,
  rotateGatewayToken,
  type GatewayTokenRotationContext,
  type RotationStep,
} from './rotate-gateway-token';

// The rotation contract over a real local secret store (versions and staging labels as Secrets
// Manager keeps them) and an in-memory Consul. Against moto and real Consul: test/integration/rotation.
const PREFIX = 'consul-peering';
const NAME = gatewayTokenSecretName(PREFIX, 'dc1');
let directory: string;
let secrets: FileSecretStore;
let consul: MemoryConsul;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'rotation-'));
  secrets = new FileSecretStore({ path: join(directory, 'secrets.json') });
  consul = memoryConsul();
  await ensureGatewayToken(consul, secrets, {
    cluster: 'dc1',
    serviceName: 'mesh-gateway',
    secretPrefix: PREFIX,
  });
});
afterEach(() => rm(directory, { recursive: true, force: true }));

const context = (): GatewayTokenRotationContext => ({
  secrets,
  clusters: {
    connect: (cluster) =>
      Promise.resolve({
        api: consul,
        connection: { address: `https://${cluster.name}.example:8501`, token: 'automation' },
        gatewayService: 'mesh-gateway',
      }),
  },
  withConsulAs: (_connection, token, use) => use(consul.as(token)),
  secretPrefix: PREFIX,
  log: { info: () => undefined, warn: () => undefined },
});

const step = (s: RotationStep, versionId: string, secretId = NAME) =>
  rotateGatewayToken({ secretId, versionId, step: s }, context());

async function rotate(versionId = randomUUID()): Promise<string> {
  for (const s of ROTATION_STEPS) await step(s, versionId);
  return versionId;
}

async function token(selector: { versionStage?: string; versionId?: string }): Promise<GatewayTokenSecret> {
  const stored = await secrets.get(NAME, selector);
  if (stored === undefined) throw new Error(`no version ${JSON.stringify(selector)}`);
  return JSON.parse(stored.value) as GatewayTokenSecret;
}

const labels = async () => (await secrets.versions(NAME))?.stages ?? {};
const tokensInConsul = () => [...consul.tokens.keys()].sort();

test('the four steps make a new token current and keep the previous one valid', async () => {
  const original = await token({ versionStage: 'AWSCURRENT' });
  const versionId = randomUUID();

  await step('createSecret', versionId);
  const pending = await token({ versionId });
  expect(pending).toMatchObject({ policyName: original.policyName, serviceName: original.serviceName });
  expect(pending.accessorId).not.toBe(original.accessorId);
  expect(pending.secretId).not.toBe(original.secretId);
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(original);
  expect((await labels())[versionId]).toEqual(['AWSPENDING']);
  expect(consul.tokens.get(pending.accessorId)?.policies.map((p) => p.name)).toEqual([original.policyName]);

  await step('setSecret', versionId);
  await step('testSecret', versionId);
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(original);

  await step('finishSecret', versionId);
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(pending);
  expect(await token({ versionStage: 'AWSPREVIOUS' })).toEqual(original);
  expect((await labels())[versionId]).toEqual(['AWSCURRENT']);
  // Both valid: gateways still holding the old SecretID keep working until the next rotation.
  expect(tokensInConsul()).toEqual([original.accessorId, pending.accessorId].sort());
});

test('the next rotation retires the token before the previous one, and nothing else', async () => {
  const first = await token({ versionStage: 'AWSCURRENT' });
  const foreign = await consul.createToken({
    description: 'made by hand',
    policies: [{ name: first.policyName }],
  });
  await rotate();
  const second = await token({ versionStage: 'AWSCURRENT' });
  await rotate();
  const third = await token({ versionStage: 'AWSCURRENT' });

  expect(await token({ versionStage: 'AWSPREVIOUS' })).toEqual(second);
  expect(tokensInConsul()).toEqual([second.accessorId, third.accessorId, foreign.accessorId].sort());
  expect(consul.tokens.has(first.accessorId)).toBe(false);
});

test('every step run again changes nothing: no secret version, no Consul write', async () => {
  const versionId = randomUUID();
  for (const s of ROTATION_STEPS) {
    await step(s, versionId);
    const versions = Object.keys(await labels()).length;
    const writes = consul.writes().length;
    await expect(step(s, versionId)).resolves.toMatchObject({ changed: false });
    expect(Object.keys(await labels())).toHaveLength(versions);
    expect(consul.writes()).toHaveLength(writes);
  }
  // A late retry of an earlier step after the rotation finished has nothing to do either.
  await expect(step('createSecret', versionId)).resolves.toEqual({ step: 'createSecret', changed: false });
  expect(Object.keys(await labels())).toHaveLength(2);
});

test('a createSecret that died after storing the new IDs creates that same token on its retry', async () => {
  const versionId = randomUUID();
  consul.before = (method) => {
    if (method === 'createToken') throw new Error('connection reset');
  };
  await expect(step('createSecret', versionId)).rejects.toThrow('connection reset');
  const stored = await token({ versionId });
  expect(consul.tokens.has(stored.accessorId)).toBe(false);
  expect(await token({ versionStage: 'AWSCURRENT' })).not.toEqual(stored);

  consul.before = () => undefined;
  await step('createSecret', versionId);
  expect(await token({ versionId })).toEqual(stored);
  expect(consul.tokens.has(stored.accessorId)).toBe(true);
  expect(Object.keys(await labels())).toHaveLength(2);
});

test('a failing testSecret leaves AWSCURRENT working; after setSecret again the step passes', async () => {
  const original = await token({ versionStage: 'AWSCURRENT' });
  const versionId = randomUUID();
  await step('createSecret', versionId);
  const pending = await token({ versionId });
  await consul.deleteToken(pending.accessorId);

  await expect(step('testSecret', versionId)).rejects.toMatchObject({
    retryable: true,
    message: expect.stringContaining('cluster dc1') as unknown,
  });
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(original);
  expect(consul.tokens.has(original.accessorId)).toBe(true);

  await step('setSecret', versionId);
  await step('testSecret', versionId);
  await step('finishSecret', versionId);
  expect(await token({ versionStage: 'AWSCURRENT' })).toEqual(pending);
});

test('a token that resolves without the gateway policy fails the test', async () => {
  const versionId = randomUUID();
  await step('createSecret', versionId);
  const pending = await token({ versionId });
  const inConsul = consul.tokens.get(pending.accessorId);
  if (inConsul === undefined) throw new Error('no token');
  consul.tokens.set(pending.accessorId, { ...inConsul, policies: [] });

  await expect(step('testSecret', versionId)).rejects.toThrow(
    `the new gateway token resolves to ${pending.accessorId} without the policy "${pending.policyName}"`,
  );
  await expect(step('testSecret', versionId)).rejects.toBeInstanceOf(PermanentError);
});

test('only gateway token secrets are rotated, and only to a pending version', async () => {
  await secrets.put(`${PREFIX}/clusters/dc1`, '{}');
  const refused = step('createSecret', randomUUID(), `${PREFIX}/clusters/dc1`);
  await expect(refused).rejects.toBeInstanceOf(ValidationError);
  await expect(step('createSecret', randomUUID(), `${PREFIX}/clusters/dc1`)).rejects.toThrow(
    `SecretId: expected a gateway token secret "${PREFIX}/gateway-tokens/<cluster>", got "${PREFIX}/clusters/dc1"`,
  );
  await expect(step('setSecret', 'no-such-version')).rejects.toThrow(
    `secret ${NAME} has no version no-such-version`,
  );
  await expect(step('createSecret', randomUUID(), `${PREFIX}/gateway-tokens/none`)).rejects.toThrow(
    `secret ${PREFIX}/gateway-tokens/none does not exist`,
  );

  const versionId = await rotate();
  const previous = Object.entries(await labels()).find(([, s]) => s.includes('AWSPREVIOUS'))?.[0] ?? '';
  await expect(step('finishSecret', previous)).rejects.toThrow(
    `version ${previous} of secret ${NAME} is not AWSPENDING`,
  );
  expect((await labels())[versionId]).toEqual(['AWSCURRENT']);
});

test("onboarding's sweep spares the tokens a rotation holds", async () => {
  const original = await token({ versionStage: 'AWSCURRENT' });
  await rotate();
  const current = await token({ versionStage: 'AWSCURRENT' });
  const inFlight = randomUUID();
  await step('createSecret', inFlight);
  const pending = await token({ versionId: inFlight });
  // The current token lost in Consul: onboarding (drift's remedy) creates it again, then sweeps.
  await consul.deleteToken(current.accessorId);

  await ensureGatewayToken(consul, secrets, {
    cluster: 'dc1',
    serviceName: 'mesh-gateway',
    secretPrefix: PREFIX,
  });

  expect(tokensInConsul()).toEqual([original.accessorId, current.accessorId, pending.accessorId].sort());
});
