import { ConsulError } from '#commons/ports/consul-error';
import type { AclPolicy, AclToken } from '../ports/consul-types';
import { NotReadyError } from '../errors';
import type { ConsulApi } from '../ports/consul-api';
import type { SecretStore, SecretValue } from '../ports/secret-store';
import { ensureGatewayToken } from './ensure-gateway-token';

// What onboarding does when Consul's reads and writes disagree, as a server that has just restarted
// makes them disagree: a read says "ACL not found" for an object the next create says exists.
const INPUT = { cluster: 'dc1', serviceName: 'mesh-gateway', secretPrefix: 'consul-peering' };

function aclWorld() {
  const policies = new Map<string, AclPolicy>();
  const tokens = new Map<string, AclToken>();
  // How many more reads of each kind answer "absent", whatever Consul holds.
  const blind = { policy: 0, token: 0 };
  const sees = (kind: keyof typeof blind) => (blind[kind]-- > 0 ? false : true);
  const exists = (path: string) =>
    new ConsulError('already-exists', { method: 'PUT', path }, 500, 'already exists');
  const writes: string[] = [];
  const consul = {
    readPolicyByName: (name: string) => Promise.resolve(sees('policy') ? policies.get(name) : undefined),
    createPolicy: ({
      name,
      description = '',
      rules,
    }: {
      name: string;
      description?: string;
      rules: string;
    }) => {
      writes.push('createPolicy');
      if (policies.has(name)) return Promise.reject(exists('/v1/acl/policy'));
      const policy = {
        id: `p-${name}`,
        name,
        description,
        rules,
        datacenters: [],
        createIndex: 1,
        modifyIndex: 1,
      };
      policies.set(name, policy);
      return Promise.resolve(policy);
    },
    readToken: (accessorId: string) => Promise.resolve(sees('token') ? tokens.get(accessorId) : undefined),
    createToken: ({ accessorId = '', description = '' }: { accessorId?: string; description?: string }) => {
      writes.push('createToken');
      if (tokens.has(accessorId)) return Promise.reject(exists('/v1/acl/token'));
      const token = { accessorId, description, policies: [], local: false, createIndex: 1, modifyIndex: 1 };
      tokens.set(accessorId, token);
      return Promise.resolve(token);
    },
    listTokensByPolicy: () => Promise.resolve([...tokens.values()]),
    deleteToken: (accessorId: string) => Promise.resolve(void tokens.delete(accessorId)),
  } as unknown as ConsulApi;

  const stored = new Map<string, SecretValue>();
  const secrets = {
    get: (name: string) => Promise.resolve(stored.get(name)),
    put: (name: string, value: string) => {
      const versionId = `v${stored.size + 1}`;
      stored.set(name, { name, versionId, value });
      return Promise.resolve({ versionId, changed: true });
    },
  } as unknown as SecretStore;
  return {
    consul,
    secrets,
    policies,
    tokens,
    stored,
    writes,
    blindFor: (reads: Partial<typeof blind>) => void Object.assign(blind, reads),
  };
}

test('a first run creates the policy, stores the token IDs, then creates the token', async () => {
  const world = aclWorld();
  const result = await ensureGatewayToken(world.consul, world.secrets, INPUT);
  expect(result).toMatchObject({ policyChanged: true, tokenCreated: true });
  expect([...world.tokens.keys()]).toEqual([result.accessorId]);
  expect(world.stored.size).toBe(1);
});

test('a token read as absent that Consul says exists is adopted: one token, no new secret version', async () => {
  const world = aclWorld();
  const first = await ensureGatewayToken(world.consul, world.secrets, INPUT);
  world.writes.length = 0;
  world.blindFor({ policy: 1, token: 1 }); // both first reads say "absent", as after a restart

  const again = await ensureGatewayToken(world.consul, world.secrets, INPUT);

  expect(again).toEqual({ accessorId: first.accessorId, policyChanged: false, tokenCreated: false });
  expect(world.writes).toEqual(['createPolicy', 'createToken']); // both refused, both adopted
  expect(world.tokens.size).toBe(1);
  expect(world.policies.size).toBe(1);
  expect([...world.stored.values()].map((s) => s.versionId)).toEqual(['v1']);
});

test('when the read after "already exists" still says absent, the step is retried, not failed', async () => {
  const world = aclWorld();
  await ensureGatewayToken(world.consul, world.secrets, INPUT);
  world.blindFor({ token: 2 }); // the token read, and the re-read after the refused create

  await expect(ensureGatewayToken(world.consul, world.secrets, INPUT)).rejects.toBeInstanceOf(NotReadyError);
  expect(world.tokens.size).toBe(1);
});

test('a token whose secret was lost is replaced, and the orphan is deleted', async () => {
  const world = aclWorld();
  const first = await ensureGatewayToken(world.consul, world.secrets, INPUT);
  world.stored.clear();

  const second = await ensureGatewayToken(world.consul, world.secrets, INPUT);

  expect(second.tokenCreated).toBe(true);
  expect([...world.tokens.keys()]).toEqual([second.accessorId]);
  expect(second.accessorId).not.toBe(first.accessorId);
});
