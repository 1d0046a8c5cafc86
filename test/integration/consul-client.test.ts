import { randomUUID } from 'node:crypto';
import { ConsulClient } from '#commons/consul/client';
import { ConsulError } from '#commons/ports/consul-error';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { freePorts } from '#devkit/free-port';
import { pollUntil } from '#devkit/poll';
import { SniRoutingGateway } from '#devkit/sni-routing-gateway';

// Every client operation against two real Consul datacenters with ACLs on (default deny).
let clusters: LocalConsulCluster[];
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;
let c1: ConsulClient, c2: ConsulClient;
let relay: SniRoutingGateway;

beforeAll(async () => {
  clusters = await startConsulClusters(2);
  [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  c1 = new ConsulClient({ address: dc1.address, token: dc1.managementToken });
  c2 = new ConsulClient({ address: dc2.address, token: dc2.managementToken });
  relay = await SniRoutingGateway.listen(dc1); // dc1's gateway: only its local route
}, 120_000);

afterAll(async () => {
  await Promise.all([c1.close(), c2.close(), relay.close()]);
  await Promise.all(clusters.map((c) => c.stop()));
});

test('readiness: a leader and an initialised CA', async () => {
  expect(await c1.leader()).toMatch(/^127\.0\.0\.1:\d+$/);
  const roots = await c1.caRoots();
  expect(roots.roots.length).toBeGreaterThan(0);
  expect(roots.trustDomain).toMatch(/\.consul$/);
});

test('missing peering and config entry are not found (undefined), not errors', async () => {
  expect(await c1.readPeering('nobody')).toBeUndefined();
  expect(await c1.readConfigEntryRaw('service-defaults', 'nothing')).toBeUndefined();
  expect(await c1.readPolicyByName('no-such-policy')).toBeUndefined();
  expect(await c1.readToken(randomUUID())).toBeUndefined();
});

test('a restricted token gets permission denied naming the missing permission, and no token in the message', async () => {
  const policy = await c1.createPolicy({
    name: `read-services-${randomUUID().slice(0, 8)}`,
    rules: 'service_prefix "" { policy = "read" }',
  });
  const secretId = randomUUID();
  const token = await c1.createToken({ accessorId: randomUUID(), secretId, policies: [{ id: policy.id }] });
  expect((await c1.listTokensByPolicy(policy.id)).map((t) => t.accessorId)).toEqual([token.accessorId]);
  const restricted = new ConsulClient({ address: dc1.address, token: secretId });
  try {
    const error = await restricted.listPeerings().catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'permission-denied' });
    expect((error as ConsulError).permission).toBe('peering:read');
    expect(String(error)).toMatch(/GET \/v1\/peerings/);
    expect(JSON.stringify(error) + String((error as Error).stack)).not.toContain(secretId);
    const unknown = new ConsulClient({ address: dc1.address, token: randomUUID() });
    const notFound = await unknown.listPeerings().catch((e: unknown) => e);
    expect(notFound).toMatchObject({ kind: 'permission-denied' });
    expect((notFound as ConsulError).denial).toBe('token-not-found');
    await unknown.close();
  } finally {
    await restricted.close();
    await c1.deleteToken(token.accessorId);
  }
  expect(await c1.readToken(token.accessorId)).toBeUndefined();
});

test('a CAS write with a stale index is a conflict; a mesh-entry write keeps fields it did not set', async () => {
  await c2.writeConfigEntryCas({ Kind: 'mesh', TransparentProxy: { MeshDestinationsOnly: true } }, 0);
  const read = await c2.readConfigEntryRaw('mesh', 'mesh');
  expect(read).toBeDefined();
  const merged: Record<string, unknown> & { Kind: string } = {
    ...(read?.entry ?? {}),
    Kind: 'mesh',
    Peering: { PeerThroughMeshGateways: true },
  };
  delete merged.CreateIndex;
  delete merged.ModifyIndex;
  await c2.writeConfigEntryCas(merged, read?.modifyIndex ?? 0);
  const after = await c2.readConfigEntryRaw('mesh', 'mesh');
  expect(after?.entry).toMatchObject({
    TransparentProxy: { MeshDestinationsOnly: true },
    Peering: { PeerThroughMeshGateways: true },
  });
  // Stale: the index we read before our own write. (Consul answers `true` to an identical write
  // whatever the index, since it skips no-op writes before checking CAS; so the content differs here.)
  await expect(
    c2.writeConfigEntryCas({ ...merged, Meta: { changed: 'yes' } }, read?.modifyIndex ?? 0),
  ).rejects.toMatchObject({ kind: 'cas-conflict' });
  await expect(c2.writeConfigEntryCas({ Kind: 'mesh' }, 0)).rejects.toMatchObject({ kind: 'cas-conflict' });
});

test('gateway registration (agent and catalog forms), health, deregistration', async () => {
  await c1.registerAgentService({
    Kind: 'mesh-gateway',
    ID: 'mesh-gateway',
    Name: 'mesh-gateway',
    Address: '127.0.0.1',
    Port: relay.port,
    TaggedAddresses: {
      lan: { Address: '127.0.0.1', Port: relay.port },
      wan: { Address: '127.0.0.1', Port: relay.port },
    },
    Check: { Name: 'mesh-gateway listening', TCP: `127.0.0.1:${relay.port}`, Interval: '1s' },
  });
  const passing = await pollUntil('the gateway to pass its check', async () => {
    const instances = await c1.healthService('mesh-gateway', { passing: true });
    return instances.length > 0 ? instances : undefined;
  });
  expect(passing[0]?.service).toMatchObject({ kind: 'mesh-gateway', port: relay.port });
  expect(passing[0]?.service.taggedAddresses.wan).toEqual({ address: '127.0.0.1', port: relay.port });

  const [unusedPort] = (await freePorts(1)) as [number];
  await c1.registerCatalog({
    Node: 'external-gateway-node',
    Address: '127.0.0.1',
    Service: {
      ID: 'catalog-gw',
      Service: 'catalog-gw',
      Kind: 'mesh-gateway',
      Port: unusedPort,
      Address: '127.0.0.1',
    },
    Checks: [
      { CheckID: 'catalog-gw-alive', Name: 'external check', Status: 'critical', ServiceID: 'catalog-gw' },
    ],
  });
  expect(await c1.healthService('catalog-gw', { passing: true })).toEqual([]);
  expect((await c1.healthService('catalog-gw'))[0]?.status).toBe('critical');
  await c1.deregisterCatalog({ Node: 'external-gateway-node' });
  expect(await c1.healthService('catalog-gw')).toEqual([]);
});

test('with PeerThroughMeshGateways, the token carries the gateway wan address; it works once; a missing peering is not found', async () => {
  await c1.writeConfigEntryCas({ Kind: 'mesh', Peering: { PeerThroughMeshGateways: true } }, 0);
  const token = await pollUntil('a peering token (the CA may still be initialising)', () =>
    c1.generatePeeringToken({ peerName: 'dc2', meta: { purpose: 'test' } }),
  );
  const decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as {
    ServerAddresses: string[];
    PeerID: string;
  };
  expect(decoded.ServerAddresses).toEqual([`127.0.0.1:${relay.port}`]);
  expect((await c1.readPeering('dc2'))?.state).toBe('PENDING');

  // dc2 dials directly here (its mesh entry has the flag but no gateway: Consul falls back to direct).
  await c2.establishPeering({ peerName: 'dc1', peeringToken: token });
  await pollUntil(
    'ACTIVE on both sides',
    async () => {
      const [a, b] = [await c1.readPeering('dc2'), await c2.readPeering('dc1')];
      return a?.state === 'ACTIVE' && b?.state === 'ACTIVE' ? true : undefined;
    },
    { timeoutMs: 60_000 },
  );
  expect(relay.routed('dc1').bytesIn).toBeGreaterThan(0); // the acceptor's gateway carried it
  expect(relay.unroutedReasons).toEqual([]);

  const reuse = await c2
    .establishPeering({ peerName: 'dc1-again', peeringToken: token })
    .catch((e: unknown) => e);
  expect(reuse).toMatchObject({ kind: 'peering-conflict' });
  expect(JSON.stringify(reuse) + String(reuse)).not.toContain(token);

  // A name is either accepted or dialed: dc2 dials "dc1", so it cannot generate a token for "dc1".
  const wrongWay = await c2.generatePeeringToken({ peerName: 'dc1' }).catch((e: unknown) => e);
  expect(wrongWay).toMatchObject({ kind: 'peering-conflict' });

  expect((await c1.listPeerings()).map((p) => p.name)).toEqual(['dc2']);
  await c2.deletePeering('dc1');
  await pollUntil('the dialer record to disappear', async () =>
    (await c2.readPeering('dc1')) === undefined ? true : undefined,
  );
  await pollUntil('the acceptor to see the peer leave', async () => {
    const state = (await c1.readPeering('dc2'))?.state;
    return state === 'TERMINATED' || state === undefined ? true : undefined;
  });
});

test('Consul unreachable is a connection error that names the address to check', async () => {
  const [port] = (await freePorts(1)) as [number];
  const secret = randomUUID();
  const nowhere = new ConsulClient({ address: `http://127.0.0.1:${port}`, token: secret, timeoutMs: 2_000 });
  const error = await nowhere.readPeering('x').catch((e: unknown) => e);
  expect(error).toMatchObject({ kind: 'connection' });
  expect(String(error)).toContain(`127.0.0.1:${port}`);
  expect(String(error) + JSON.stringify(error)).not.toContain(secret);
  await nowhere.close();
});
