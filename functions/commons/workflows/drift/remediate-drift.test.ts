import { clusterSecretName, peeringRecordSecretName, peeringTokenSecretName } from '../../naming';
import { Fleet, PREFIX, unreachable } from './drift-fakes.test-support';
import { remediateDrift, scanDrift, type DriftReport } from './scan-drift';

const report = (findings: DriftReport['findings']): DriftReport => ({
  scannedAt: '2025-06-01T12:00:00.000Z',
  clusters: 3,
  peerings: 2,
  findings,
  consulCalls: 12,
});
const ref = (name: string) => ({ name, connectionSecret: clusterSecretName(PREFIX, name) });

async function fleet(): Promise<Fleet> {
  const f = new Fleet();
  await f.addCluster('a');
  await f.addCluster('b', { gateway: false });
  await f.addCluster('c');
  await f.addPeering('a', 'b');
  await f.addPeering('a', 'c');
  return f;
}

test('one event per cluster and per pair, all under one correlation id; nothing for people-only findings', async () => {
  const f = await fleet();
  f.cluster('a').mesh = undefined;
  f.cluster('a').gateways = [];
  f.cluster('a').tokens.clear();
  f.cluster('b').gateways = []; // no addresses in b's connection secret: a person registers it
  f.side('a', 'c').state = 'FAILING';
  await f.secrets.put(peeringTokenSecretName(PREFIX, 'c', 'a'), '{}');
  const scanned = await scanDrift(f.context());
  expect(scanned.findings.map((x) => `${x.kind} ${x.cluster}`)).toEqual([
    'gateway-missing a',
    'gateway-token-missing-in-consul a',
    'mesh-config-missing a',
    'peering-failing a',
    'gateway-missing b',
    'orphan-peering-token c',
  ]);

  const result = await remediateDrift(scanned, f.context());
  const hostPort = { address: '10.0.0.1', port: 8443 };
  expect(result.published).toMatchObject([
    {
      type: 'cluster.registered',
      data: { cluster: ref('a'), gateway: { serviceName: 'mesh-gateway', lan: hostPort, wan: hostPort } },
    },
    { type: 'peering.requested', data: { acceptor: ref('a'), dialer: ref('c') } },
  ]);
  // FAILING keeps the stored token: the dialer asks for a new one only if Consul rejects it.
  expect(result.published[1]?.data).not.toHaveProperty('regenerateToken');
  expect(new Set(result.published.map((e) => e.correlationId)).size).toBe(1);
  expect(result.published[0]?.correlationId).toMatch(/^drift-/);
  expect(f.events).toEqual(result.published);
  expect(result.deletedSecrets).toEqual(['p/peering-tokens/c/a']);
  expect(f.secrets.deleted).toEqual([{ name: 'p/peering-tokens/c/a', force: true }]);
});

test.each(['peering-missing', 'peering-terminated', 'peering-pending-too-long'] as const)(
  '%s asks the acceptor for a new token, once per pair even with several findings',
  async (kind) => {
    const f = await fleet();
    const result = await remediateDrift(
      report([
        {
          kind: 'peering-failing',
          cluster: 'a',
          peer: 'b',
          detail: '',
          remedy: 'requests the peering again',
        },
        { kind, cluster: 'a', peer: 'b', detail: '', remedy: 'requests the peering again' },
      ]),
      f.context(),
    );
    expect(result.published).toMatchObject([
      { type: 'peering.requested', data: { acceptor: ref('a'), dialer: ref('b'), regenerateToken: true } },
    ]);
  },
);

test('a cluster without gateway addresses is onboarded without a gateway', async () => {
  const f = await fleet();
  const result = await remediateDrift(
    report([{ kind: 'mesh-flag-off', cluster: 'b', detail: '', remedy: 're-runs onboarding' }]),
    f.context(),
  );
  expect(result.published).toMatchObject([{ type: 'cluster.registered', data: { cluster: ref('b') } }]);
  expect(result.published[0]?.data).not.toHaveProperty('gateway');
});

test('an orphan token whose pair was requested since the scan is kept', async () => {
  const f = await fleet();
  await f.secrets.put(peeringTokenSecretName(PREFIX, 'c', 'b'), '{}');
  const scanned = await scanDrift(f.context());
  await f.secrets.put(
    peeringRecordSecretName(PREFIX, 'c', 'b'),
    JSON.stringify({ acceptor: 'c', dialer: 'b', exportServices: [] }),
  );
  const result = await remediateDrift(scanned, f.context());
  expect(result).toEqual({ published: [], deletedSecrets: [] });
  expect(f.secrets.deleted).toEqual([]);
});

test('a dry run returns what it would do and does nothing', async () => {
  const f = await fleet();
  f.cluster('c').mesh = undefined;
  f.side('a', 'b').state = 'TERMINATED';
  await f.secrets.put(peeringTokenSecretName(PREFIX, 'b', 'c'), '{}');
  const scanned = await scanDrift(f.context());
  const writesBefore = f.secrets.writes;
  const result = await remediateDrift(scanned, f.context(), { dryRun: true });
  expect(result.published.map((e) => e.type)).toEqual(['cluster.registered', 'peering.requested']);
  expect(result.deletedSecrets).toEqual(['p/peering-tokens/b/c']);
  expect(f.events).toEqual([]);
  expect(f.secrets.deleted).toEqual([]);
  expect(f.secrets.writes).toBe(writesBefore);
  expect(f.calls().filter((c) => !/read|health|list/i.test(c))).toEqual([]);
});

test('an unreachable cluster gets no event', async () => {
  const f = await fleet();
  f.cluster('c').failWith = unreachable();
  const scanned = await scanDrift(f.context());
  expect(scanned.findings.map((x) => x.kind)).toEqual(['cluster-unreachable']);
  expect(await remediateDrift(scanned, f.context())).toEqual({ published: [], deletedSecrets: [] });
});
