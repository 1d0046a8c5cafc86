import { randomUUID } from 'node:crypto';
import { ConsulClient } from '#commons/consul/client';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { pollUntil } from '#devkit/poll';

// The persistent test cluster (`mode: 'server'`): a real single server with a data dir, whose Raft
// state survives a crash. The chaos suite relies on it to kill and restart Consul mid-request.
let clusters: LocalConsulCluster[];
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;

beforeAll(async () => {
  clusters = await startConsulClusters(2, { mode: 'server', prefix: 'persist' });
  [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
}, 120_000);

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
});

const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });

test('a peering, an ACL policy and token, and the mesh entry survive SIGKILL and a restart', async () => {
  const [c1, c2] = [admin(dc1), admin(dc2)];
  const policy = await c1.createPolicy({ name: 'survivor', rules: 'service_prefix "" { policy = "read" }' });
  const accessorId = randomUUID();
  await c1.createToken({ accessorId, secretId: randomUUID(), policies: [{ id: policy.id }] });
  await c1.writeConfigEntryCas({ Kind: 'mesh', Meta: { survives: 'yes' } }, 0);
  // Direct dial (no gateways): this test is about Raft state, not routing.
  const token = await c1.generatePeeringToken({ peerName: 'persist2' });
  await c2.establishPeering({ peerName: 'persist1', peeringToken: token });
  const before = await pollUntil('the peering to be ACTIVE on dc1', async () => {
    const p = await c1.readPeering('persist2');
    return p?.state === 'ACTIVE' ? p : undefined;
  });
  const pidBefore = dc1.pid;

  const ended = await dc1.kill();
  expect(ended.signal).toBe('SIGKILL'); // the fault really happened: a crash, not a graceful leave
  expect(dc1.running).toBe(false);
  await dc1.restart();
  expect(dc1.pid).not.toBe(pidBefore);

  const c1After = admin(dc1); // a fresh pool: the old connections died with the agent
  expect((await c1After.readPolicyByName('survivor'))?.id).toBe(policy.id);
  expect((await c1After.readToken(accessorId))?.accessorId).toBe(accessorId);
  expect((await c1After.readConfigEntryRaw('mesh', 'mesh'))?.entry).toMatchObject({
    Meta: { survives: 'yes' },
  });
  const after = await c1After.readPeering('persist2');
  expect(after?.id).toBe(before.id);
  // The stream comes back by itself: the dialer's leader redials the restarted acceptor.
  await pollUntil(
    'the peering to be ACTIVE again on both sides',
    async () => {
      const [a, b] = await Promise.all([c1After.readPeering('persist2'), c2.readPeering('persist1')]);
      return a?.state === 'ACTIVE' && b?.state === 'ACTIVE' ? true : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  await Promise.all([c1.close(), c1After.close(), c2.close()]);
});

test('a -dev cluster refuses restart() (it would come back empty)', async () => {
  const [dev] = await startConsulClusters(1, { prefix: 'devonly' });
  try {
    await expect(dev?.restart()).rejects.toThrow(/in memory/);
  } finally {
    await dev?.stop();
  }
});
