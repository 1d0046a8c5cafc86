import { randomUUID } from 'node:crypto';
import { ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConsulClient } from '#commons/consul/client';
import { createEvent, type ClusterRef, type PipelineEvent } from '#commons/events/index';
import {
  clusterSecretName,
  gatewayTokenSecretName,
  peeringRecordSecretName,
  peeringTokenSecretName,
} from '#commons/naming';
import { meshGatewayPolicyName } from '#commons/workflows/gateway-policy';
import { LocalPipeline } from '../../local/pipeline';
import { isWrite, type ConsulCall } from '#devkit/consul-call-recorder';
import type { LocalConsulCluster } from '#devkit/local-consul-cluster';
import type { MotoServer } from '#devkit/moto';
import type { SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { startPipelineWorld, type PipelineWorld } from '../support/pipeline-world';
import { pollUntil } from '#devkit/poll';

// The whole pipeline on real parts: three Consul datacenters with ACLs, moto's SQS and Secrets
// Manager, and SNI-routing TCP relays standing in for Envoy mesh gateways. dc1 accepts, dc2 dials,
// dc3 never gets a gateway registered (the precondition failure case).
const PREFIX = 'consul-peering';

/** The automation token's policy, exactly as in the README ("The automation's Consul token"). */
const AUTOMATION_RULES = `
acl       = "write"
peering   = "write"
mesh      = "write"
service "mesh-gateway" { policy = "write" }
service_prefix "" { policy = "read" }
node_prefix ""    { policy = "read" }
key_prefix "consul-peering-automation/locks/" { policy = "write" }
`;
const automationTokens: string[] = [];

let moto: MotoServer;
let clusters: LocalConsulCluster[];
let dc1: LocalConsulCluster, dc2: LocalConsulCluster, dc3: LocalConsulCluster;
let gateway1: SniRoutingGateway, gateway2: SniRoutingGateway;
let pipeline: LocalPipeline;
let world: PipelineWorld;
let published: PipelineEvent[];
let logLines: string[];
let consulCalls: ConsulCall[];

const ref = (cluster: LocalConsulCluster): ClusterRef => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });
const writesSince = (mark: number): { cluster: string; method: string }[] =>
  consulCalls.slice(mark).filter(isWrite);

beforeAll(async () => {
  // Logs on stdout and stderr are captured: the token scan reads them all.
  world = await startPipelineWorld({
    clusters: 3,
    secretPrefix: PREFIX,
    queueNamePrefix: 'it',
    maxAttempts: 3,
  });
  ({ moto, clusters, pipeline, published, consulCalls, logLines } = world);
  [dc1, dc2, dc3] = clusters as [LocalConsulCluster, LocalConsulCluster, LocalConsulCluster];
  [gateway1, gateway2] = world.gateways as [SniRoutingGateway, SniRoutingGateway];
  // The pipeline runs with the least-privilege automation token the README documents, not the management token.
  for (const cluster of clusters) {
    const client = admin(cluster);
    const policy = await client.createPolicy({ name: 'peering-automation', rules: AUTOMATION_RULES });
    const secretId = randomUUID();
    await client.createToken({ accessorId: randomUUID(), secretId, policies: [{ id: policy.id }] });
    automationTokens.push(secretId);
    await client.close();
    await pipeline.secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: secretId }),
    );
  }
  // An operator's own mesh settings on dc1, which onboarding must keep.
  const client = admin(dc1);
  await client.writeConfigEntryCas(
    { Kind: 'mesh', TransparentProxy: { MeshDestinationsOnly: true }, Meta: { team: 'platform' } },
    0,
  );
  await client.close();
  pipeline.start();
}, 120_000);

afterAll(async () => {
  await world.stop();
});

test('malformed events reach the DLQ with a specific reason and cause zero writes to Consul', async () => {
  const mark = consulCalls.length;
  const before = pipeline.deadLettered().length;
  const send = (body: string) => pipeline.sendRaw('onboard', body);
  const valid = createEvent('cluster.registered', { cluster: ref(dc1) }, { correlationId: 'bad-input' });
  await send('{"type":"cluster.registered"'); // not JSON
  await send(JSON.stringify({ ...valid, data: {} })); // missing field
  await send(JSON.stringify({ ...valid, data: { cluster: { name: 42, connectionSecret: 'x' } } })); // wrong type
  await send(
    JSON.stringify({
      ...valid,
      data: { cluster: { name: 'nowhere', connectionSecret: clusterSecretName(PREFIX, 'nowhere') } },
    }),
  ); // unknown cluster
  await send(JSON.stringify({ ...valid, data: { cluster: ref(dc1), padding: 'x'.repeat(20_000) } })); // oversized
  const reasons = await pollUntil('five dead letters', () => {
    const letters = pipeline.deadLettered();
    return Promise.resolve(letters.length >= before + 5 ? letters : undefined);
  });
  expect(reasons.slice(before).map((l) => l.reason)).toEqual(Array(5).fill('validation'));
  expect(reasons.map((l) => l.error).join('\n')).toMatch(/unknown cluster "nowhere"/);
  expect(writesSince(mark)).toEqual([]);
});

test('cluster.registered x2 and peering.requested on SQS end ACTIVE on both sides, through both gateways', async () => {
  const correlationId = 'chain';
  const hostPort = (relay: SniRoutingGateway) => ({ address: '127.0.0.1', port: relay.port });
  await pipeline.publish(
    createEvent(
      'cluster.registered',
      { cluster: ref(dc1), gateway: { lan: hostPort(gateway1), wan: hostPort(gateway1) } },
      { correlationId },
    ),
  );
  await pipeline.publish(
    createEvent(
      'cluster.registered',
      { cluster: ref(dc2), gateway: { lan: hostPort(gateway2), wan: hostPort(gateway2) } },
      { correlationId },
    ),
  );
  await pipeline.publish(
    createEvent(
      'peering.requested',
      { acceptor: ref(dc1), dialer: ref(dc2), exportServices: ['web', 'api'] },
      { correlationId },
    ),
  );
  const outcome = await pipeline.waitForOutcome(correlationId, 90_000);
  expect(outcome.type).toBe('peering.established');

  const [c1, c2] = [admin(dc1), admin(dc2)];
  const [onDc1, onDc2] = [await c1.readPeering('dc2'), await c2.readPeering('dc1')];
  expect(onDc1?.state).toBe('ACTIVE');
  expect(onDc2?.state).toBe('ACTIVE');
  // Both gateways carried the handshake and the stream: dc2's routed dc1's server name to dc1's
  // gateway, which routed it to its own server; nothing came that either could not route.
  expect(gateway2.routed('dc1').bytesIn).toBeGreaterThan(0);
  expect(gateway1.routed('dc1').bytesIn).toBeGreaterThan(0);
  expect([...gateway1.unroutedReasons, ...gateway2.unroutedReasons]).toEqual([]);

  // The ordering rule, proven from Consul's own records: Raft indexes are a total order per cluster.
  const [mesh1, mesh2] = [
    await c1.readConfigEntryRaw('mesh', 'mesh'),
    await c2.readConfigEntryRaw('mesh', 'mesh'),
  ];
  expect(mesh1?.modifyIndex).toBeLessThan(onDc1?.createIndex ?? 0); // acceptor: flag before token
  expect(mesh2?.modifyIndex).toBeLessThan(onDc2?.createIndex ?? 0); // dialer: flag before establish

  // Operator-set fields survived the merge; ours were added.
  expect(mesh1?.entry).toMatchObject({
    TransparentProxy: { MeshDestinationsOnly: true },
    Peering: { PeerThroughMeshGateways: true },
    Meta: { team: 'platform', 'managed-by': 'consul-peering-automation' },
  });
  // The requested exports, and the wanted peering recorded as desired state for drift scans.
  const exports = await c1.readConfigEntryRaw('exported-services', 'default');
  expect(exports?.entry.Services).toEqual([
    { Name: 'api', Consumers: [{ Peer: 'dc2' }] },
    { Name: 'web', Consumers: [{ Peer: 'dc2' }] },
  ]);
  const record = await pipeline.secrets.get(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'));
  expect(JSON.parse(record?.value ?? '{}')).toEqual({
    acceptor: 'dc1',
    dialer: 'dc2',
    exportServices: ['api', 'web'],
  });
  await Promise.all([c1.close(), c2.close()]);
});

test('no token appears in any queue message or log line', async () => {
  const secrets: string[] = [...clusters.map((c) => c.managementToken), ...automationTokens];
  const peeringSecret = await pipeline.secrets.get(peeringTokenSecretName(PREFIX, 'dc1', 'dc2'));
  const peeringToken =
    (JSON.parse(peeringSecret?.value ?? '{}') as { peeringToken?: string }).peeringToken ?? '';
  expect(peeringToken.length).toBeGreaterThan(100);
  secrets.push(peeringToken);
  for (const dc of ['dc1', 'dc2']) {
    const gatewaySecret = await pipeline.secrets.get(gatewayTokenSecretName(PREFIX, dc));
    secrets.push((JSON.parse(gatewaySecret?.value ?? '{}') as { secretId?: string }).secretId ?? '');
  }
  const haystacks = [
    ...published.map((e) => JSON.stringify(e)),
    ...pipeline.deadLettered().map((d) => d.body),
    ...logLines,
  ];
  expect(haystacks.length).toBeGreaterThan(10);
  expect(logLines.length).toBeGreaterThan(3);
  expect(logLines.some((l) => l.includes('"level":"WARN"'))).toBe(true); // stderr was scanned too
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(30);
    expect(haystacks.filter((h) => h.includes(secret))).toEqual([]);
  }
});

test('every event delivered 3 times, out of order, leaves the same end state and writes nothing', async () => {
  const versions = async () => {
    const sm = new SecretsManagerClient(moto.clientConfig);
    const listed = await sm.send(
      new ListSecretVersionIdsCommand({ SecretId: peeringTokenSecretName(PREFIX, 'dc1', 'dc2') }),
    );
    return (listed.Versions ?? []).length;
  };
  const versionsBefore = await versions();
  const mark = consulCalls.length;
  const chain = published.filter((e) => e.correlationId === 'chain');
  const replayed = [...chain, ...chain, ...chain].reverse(); // out of order: outcomes and dial first
  const correlationIds: string[] = [];
  for (const event of replayed) {
    if (event.type === 'peering.established' || event.type === 'peering.failed') continue;
    const replay = { ...event, correlationId: `replay-${correlationIds.length}` } as PipelineEvent;
    if (replay.type === 'peering.requested') correlationIds.push(replay.correlationId);
    await pipeline.publish(replay);
  }
  for (const id of correlationIds)
    expect((await pipeline.waitForOutcome(id, 60_000)).type).toBe('peering.established');

  expect(writesSince(mark)).toEqual([]);
  expect(await versions()).toBe(versionsBefore);
  for (const cluster of [dc1, dc2]) {
    const client = admin(cluster);
    const policy = await client.readPolicyByName(meshGatewayPolicyName('mesh-gateway'));
    expect(policy).toBeDefined();
    const tokens = (await (
      await fetch(`${cluster.address}/v1/acl/tokens?policy=${policy?.id ?? ''}`, {
        headers: { 'X-Consul-Token': cluster.managementToken },
      })
    ).json()) as unknown[];
    expect(tokens).toHaveLength(1);
    expect((await client.listPeerings()).map((p) => p.state)).toEqual(['ACTIVE']);
    await client.close();
  }
});

test('the gateway token can do what a gateway needs and nothing more', async () => {
  const stored = await pipeline.secrets.get(gatewayTokenSecretName(PREFIX, 'dc1'));
  const { secretId } = JSON.parse(stored?.value ?? '{}') as { secretId: string };
  const call = async (method: string, path: string, body?: unknown) =>
    (
      await fetch(`${dc1.address}${path}`, {
        method,
        headers: { 'X-Consul-Token': secretId },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    ).status;
  expect(await call('GET', '/v1/peerings')).toBe(200);
  expect(await call('GET', '/v1/catalog/services')).toBe(200);
  expect(await call('GET', '/v1/health/service/mesh-gateway')).toBe(200);
  const own = {
    Kind: 'mesh-gateway',
    ID: 'mesh-gateway',
    Name: 'mesh-gateway',
    Port: gateway1.port,
    Address: '127.0.0.1',
    TaggedAddresses: {
      lan: { Address: '127.0.0.1', Port: gateway1.port },
      wan: { Address: '127.0.0.1', Port: gateway1.port },
    },
    Check: { Name: 'mesh-gateway listening', TCP: `127.0.0.1:${gateway1.port}`, Interval: '1s' },
  };
  expect(await call('PUT', '/v1/agent/service/register', own)).toBe(200);
  expect(await call('PUT', '/v1/agent/service/register', { Name: 'web', Port: 80 })).toBe(403);
  expect(await call('PUT', '/v1/config', { Kind: 'service-defaults', Name: 'web', Protocol: 'http' })).toBe(
    403,
  );
  // Not asserted: `mesh = "write"`, which Consul's docs prescribe for gateway tokens (leaf certificates
  // for peering), also lets the token write mesh-wide entries such as proxy-defaults (seen on 1.14.11).
  expect(await call('PUT', '/v1/acl/policy', { Name: 'escalate', Rules: 'acl = "write"' })).toBe(403);
  expect(await call('POST', '/v1/peering/token', { PeerName: 'rogue' })).toBe(403);
});

test('a dialer without a mesh gateway fails with a clear precondition error instead of dialing direct', async () => {
  const correlationId = 'no-gateway';
  await pipeline.publish(createEvent('cluster.registered', { cluster: ref(dc3) }, { correlationId }));
  await pipeline.publish(
    createEvent('peering.requested', { acceptor: ref(dc1), dialer: ref(dc3) }, { correlationId }),
  );
  const outcome = await pipeline.waitForOutcome(correlationId, 90_000);
  expect(outcome).toMatchObject({ type: 'peering.failed', data: { reason: 'dialer-gateway-missing' } });
  expect(outcome.type === 'peering.failed' && outcome.data.message).toMatch(/dc3.*no mesh gateway/);
  const client = admin(dc3);
  expect(await client.readPeering('dc1')).toBeUndefined(); // never established, never dialed direct
  await client.close();
});
