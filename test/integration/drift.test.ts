import { ConsulClient } from '#commons/consul/client';
import type { ConfigEntry } from '#commons/ports/consul-types';
import { createEvent, type EventType, type PipelineEvent } from '#commons/events/index';
import { clusterSecretName, gatewayTokenSecretName, peeringTokenSecretName } from '#commons/naming';
import type { WorkflowContext } from '#commons/workflows/context';
import {
  remediateDrift,
  scanDrift,
  type DriftFinding,
  type DriftReport,
} from '#commons/workflows/drift/scan-drift';
import { LocalPipeline } from '../../local/pipeline';
import { freePorts } from '#devkit/free-port';
import { isWrite, type ConsulCall } from '#devkit/consul-call-recorder';
import type { LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startPipelineWorld, type PipelineWorld } from '../support/pipeline-world';
import type { SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { pollUntil } from '#devkit/poll';

// Drift on real parts: two Consul datacenters with ACLs, moto's SQS and Secrets Manager, SNI-routing
// TCP relays as mesh gateways. dc1 accepts, dc2 dials. Each test breaks one thing on the real
// clusters, then checks that the scan names exactly that, that remediation through the pipeline heals
// it, and that a second scan finds nothing while the workflows write nothing more.
const PREFIX = 'drift-it';

let clusters: LocalConsulCluster[];
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;
let gateway1: SniRoutingGateway, gateway2: SniRoutingGateway;
let pipeline: LocalPipeline;
let context: WorkflowContext;
let world: PipelineWorld;
let published: PipelineEvent[];
let consulCalls: ConsulCall[];
let logLines: string[];

const ref = (cluster: LocalConsulCluster) => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
const gatewayOf = (relay: SniRoutingGateway) => {
  const hostPort = { address: '127.0.0.1', port: relay.port };
  return { lan: hostPort, wan: hostPort };
};
const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });
const writesSince = (mark: number) => consulCalls.slice(mark).filter(isWrite);
const label = (f: DriftFinding): string =>
  `${f.kind} ${f.cluster}${f.peer === undefined ? '' : `/${f.peer}`}`;
const labels = (report: DriftReport): string[] => report.findings.map(label);

/** Scans until the findings are exactly `expected` (labels, sorted as the report sorts them). */
async function scanUntil(expected: string[], timeoutMs = 30_000): Promise<DriftReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const report = await scanDrift(context);
    if (JSON.stringify(labels(report)) === JSON.stringify(expected)) return report;
    if (Date.now() > deadline) {
      throw new Error(
        `after ${timeoutMs} ms the scan still finds ${JSON.stringify(report.findings, null, 2)}; expected ${JSON.stringify(expected)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Detect exactly `expected`, remediate through the pipeline, wait for the fleet to converge, then
 * check a second scan: nothing found, nothing written.
 */
async function detectAndHeal(expected: string[], events: EventType[]) {
  try {
    const report = await scanUntil(expected);
    expect(labels(report)).toEqual(expected);
    const result = await remediateDrift(report, context);
    expect(result.published.map((e) => e.type)).toEqual(events);
    expect(new Set(result.published.map((e) => e.correlationId)).size).toBeLessThanOrEqual(1);
    const request = result.published.find((e) => e.type === 'peering.requested');
    if (request !== undefined) {
      const outcome = await pipeline.waitForOutcome(request.correlationId, 60_000);
      expect(outcome.type).toBe('peering.established');
    }
    await scanUntil([], 45_000);
    const mark = consulCalls.length;
    const again = await scanDrift(context);
    expect(again.findings).toEqual([]);
    expect(writesSince(mark)).toEqual([]);
    return { report, result };
  } catch (error) {
    // The handlers' logs are swallowed while tests run; a failure carries their tail.
    if (error instanceof Error) error.message += `\n--- last log lines ---\n${logLines.slice(-30).join('')}`;
    throw error;
  }
}

beforeAll(async () => {
  // The handlers' logs are kept, and printed only when a test fails.
  world = await startPipelineWorld({
    clusters: 2,
    secretPrefix: PREFIX,
    queueNamePrefix: 'drift',
    maxAttempts: 5,
  });
  ({ clusters, pipeline, published, consulCalls, logLines } = world);
  [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  [gateway1, gateway2] = world.gateways as [SniRoutingGateway, SniRoutingGateway];
  for (const [cluster, relay] of [
    [dc1, gateway1],
    [dc2, gateway2],
  ] as const) {
    await pipeline.secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: cluster.managementToken, gateway: gatewayOf(relay) }),
    );
  }
  pipeline.start();
  context = pipeline.workflowContext();

  const correlationId = 'setup';
  for (const [cluster, relay] of [
    [dc1, gateway1],
    [dc2, gateway2],
  ] as const) {
    await pipeline.publish(
      createEvent(
        'cluster.registered',
        { cluster: ref(cluster), gateway: gatewayOf(relay) },
        { correlationId },
      ),
    );
  }
  await pipeline.publish(
    createEvent('peering.requested', { acceptor: ref(dc1), dialer: ref(dc2) }, { correlationId }),
  );
  expect((await pipeline.waitForOutcome(correlationId, 90_000)).type).toBe('peering.established');
}, 120_000);

afterAll(async () => {
  await world.stop();
});

test('a converged fleet: no findings, four reads per cluster, no writes', async () => {
  const mark = consulCalls.length;
  const report = await scanUntil([]);
  expect(report).toMatchObject({ clusters: 2, peerings: 1, findings: [] });
  expect(report.consulCalls).toBe(8);
  // Onboarding may still be re-checking a gateway in the background (reads only): count the scan's own list.
  const listed = consulCalls.slice(mark).filter((c) => c.method === 'listPeerings');
  expect(listed.map((c) => c.cluster).sort()).toEqual(['dc1', 'dc2']);
  expect(writesSince(mark)).toEqual([]);
});

test('mesh flag turned off: a dry run only reports; remediation re-onboards the cluster', async () => {
  const client = admin(dc1);
  const current = await client.readConfigEntryRaw('mesh', 'mesh');
  const entry = structuredClone<ConfigEntry>(current?.entry ?? { Kind: 'mesh' });
  delete entry.CreateIndex;
  delete entry.ModifyIndex;
  entry.Peering = { PeerThroughMeshGateways: false };
  await client.writeConfigEntryCas(entry, current?.modifyIndex ?? 0);

  const report = await scanUntil(['mesh-flag-off dc1']);
  const publishedBefore = published.length;
  const dry = await remediateDrift(report, context, { dryRun: true });
  expect(dry.published.map((e) => e.type)).toEqual(['cluster.registered']);
  expect(published.length).toBe(publishedBefore);
  expect(labels(await scanDrift(context))).toEqual(['mesh-flag-off dc1']);

  const { result } = await detectAndHeal(['mesh-flag-off dc1'], ['cluster.registered']);
  expect(result.published[0]).toMatchObject({ data: { cluster: ref(dc1), gateway: gatewayOf(gateway1) } });
  expect((await client.readConfigEntryRaw('mesh', 'mesh'))?.entry.Peering).toEqual({
    PeerThroughMeshGateways: true,
  });
  // While dc1's flag was off, dc1 pushed its server address to the dialer over the stream (seen on
  // 1.14.11); with the flag back, the dialer is told the gateway's again.
  const dialer = admin(dc2);
  await pollUntil('the dialer to be given the acceptor gateway again', async () =>
    (await dialer.readPeering('dc1'))?.peerServerAddresses.join() === gateway1.address ? true : undefined,
  );
  await Promise.all([client.close(), dialer.close()]);
});

test('gateway deregistered: onboarding registers it again from the connection secret', async () => {
  const client = admin(dc2);
  expect(await client.deregisterAgentService('mesh-gateway')).toBe(true);
  await detectAndHeal(['gateway-missing dc2'], ['cluster.registered']);
  const [instance] = await client.healthService('mesh-gateway');
  expect(instance?.service.port).toBe(gateway2.port);
  await client.close();
});

test('gateway ACL token deleted in Consul: created again with the IDs kept in the secret', async () => {
  const stored = await pipeline.secrets.get(gatewayTokenSecretName(PREFIX, 'dc1'));
  const { accessorId } = JSON.parse(stored?.value ?? '{}') as { accessorId: string };
  const client = admin(dc1);
  await client.deleteToken(accessorId);
  await detectAndHeal(['gateway-token-missing-in-consul dc1'], ['cluster.registered']);
  expect(await client.readToken(accessorId)).toBeDefined();
  const after = await pipeline.secrets.get(gatewayTokenSecretName(PREFIX, 'dc1'));
  expect(after?.versionId).toBe(stored?.versionId);
  await client.close();
});

test('gateway token secret deleted: a new token is issued and the old one is removed from Consul', async () => {
  const name = gatewayTokenSecretName(PREFIX, 'dc2');
  const old = JSON.parse((await pipeline.secrets.get(name))?.value ?? '{}') as { accessorId: string };
  await pipeline.secrets.delete(name, { forceWithoutRecovery: true });
  await detectAndHeal(['gateway-token-secret-missing dc2'], ['cluster.registered']);
  const fresh = JSON.parse((await pipeline.secrets.get(name))?.value ?? '{}') as { accessorId: string };
  expect(fresh.accessorId).not.toBe(old.accessorId);
  const client = admin(dc2);
  expect(await client.readToken(fresh.accessorId)).toBeDefined();
  // The old token's secret is gone, so nobody can use it any more: onboarding removed it.
  expect(await client.readToken(old.accessorId)).toBeUndefined();
  await client.close();
});

test('peering deleted on the dialer: the acceptor shows TERMINATED; a new token peers them again', async () => {
  const [c1, c2] = [admin(dc1), admin(dc2)];
  const before = await c1.readPeering('dc2');
  await c2.deletePeering('dc1');
  const { result } = await detectAndHeal(['peering-terminated dc1/dc2'], ['peering.requested']);
  expect(result.published[0]).toMatchObject({ data: { regenerateToken: true } });
  const [onDc1, onDc2] = [await c1.readPeering('dc2'), await c2.readPeering('dc1')];
  expect([onDc1?.state, onDc2?.state]).toEqual(['ACTIVE', 'ACTIVE']);
  expect(onDc1?.id).not.toBe(before?.id);
  await Promise.all([c1.close(), c2.close()]);
});

test('orphan peering-token secret: a dry run keeps it; remediation deletes it and publishes nothing', async () => {
  const name = peeringTokenSecretName(PREFIX, 'dc2', 'dc1');
  await pipeline.secrets.put(
    name,
    JSON.stringify({ peeringToken: 'stale', peeringId: 'x', acceptor: 'dc2', dialer: 'dc1' }),
  );
  const report = await scanUntil(['orphan-peering-token dc2/dc1']);
  const dry = await remediateDrift(report, context, { dryRun: true });
  expect(dry).toEqual({ published: [], deletedSecrets: [name] });
  expect(await pipeline.secrets.get(name)).toBeDefined();

  const publishedBefore = published.length;
  const { result } = await detectAndHeal(['orphan-peering-token dc2/dc1'], []);
  expect(result.deletedSecrets).toEqual([name]);
  expect(await pipeline.secrets.get(name)).toBeUndefined();
  expect(published.length).toBe(publishedBefore);
});

test('a cluster at a dead address is reported unreachable and the others are still scanned', async () => {
  const [port] = (await freePorts(1)) as [number];
  const name = clusterSecretName(PREFIX, 'dc9');
  await pipeline.secrets.put(name, JSON.stringify({ address: `http://127.0.0.1:${port}`, token: 'x' }));
  try {
    const mark = consulCalls.length;
    const report = await scanUntil(['cluster-unreachable dc9']);
    expect(report.clusters).toBe(3);
    expect(report.findings[0]?.detail).toMatch(/cannot read the Consul of dc9/);
    const scanned = new Set(consulCalls.slice(mark).map((c) => c.cluster));
    expect([...scanned].sort()).toEqual(['dc1', 'dc2', `http://127.0.0.1:${port}`]);
    expect(await remediateDrift(report, context)).toEqual({ published: [], deletedSecrets: [] });
    expect(writesSince(mark)).toEqual([]);
  } finally {
    await pipeline.secrets.delete(name, { forceWithoutRecovery: true });
  }
});
