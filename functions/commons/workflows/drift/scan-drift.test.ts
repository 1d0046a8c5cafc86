import { peeringTokenSecretName, gatewayTokenSecretName, clusterSecretName } from '../../naming';
import { Fleet, gateway, NOW, PREFIX, unreachable } from './drift-fakes.test-support';
import { scanDrift, type DriftFinding, type DriftReport } from './scan-drift';

const labels = (report: DriftReport): string[] =>
  report.findings.map(
    (f: DriftFinding) => `${f.kind} ${f.cluster}${f.peer === undefined ? '' : `/${f.peer}`}`,
  );

async function pairOfClusters(): Promise<Fleet> {
  const fleet = new Fleet();
  await fleet.addCluster('a');
  await fleet.addCluster('b');
  await fleet.addPeering('a', 'b');
  return fleet;
}

test('a converged fleet: no findings, four reads per cluster, nothing written', async () => {
  const fleet = await pairOfClusters();
  const report = await scanDrift(fleet.context());
  expect(report).toEqual({
    scannedAt: NOW.toISOString(),
    clusters: 2,
    peerings: 1,
    findings: [],
    consulCalls: 8,
  });
  expect(fleet.calls().sort()).toEqual([
    'a healthService mesh-gateway',
    'a listPeerings',
    'a readConfigEntryRaw mesh/mesh',
    'a readToken',
    'b healthService mesh-gateway',
    'b listPeerings',
    'b readConfigEntryRaw mesh/mesh',
    'b readToken',
  ]);
  expect(fleet.events).toEqual([]);
  expect(fleet.secrets.writes).toBe(4 + 2); // the fixture's own puts only
  expect(fleet.secrets.deleted).toEqual([]);
});

test.each([
  ['mesh entry absent', (f: Fleet) => void (f.cluster('a').mesh = undefined), 'mesh-config-missing a'],
  [
    'mesh flag off',
    (f: Fleet) => void (f.cluster('a').mesh = { Peering: { PeerThroughMeshGateways: false } }),
    'mesh-flag-off a',
  ],
  ['mesh entry without Peering', (f: Fleet) => void (f.cluster('a').mesh = { Meta: {} }), 'mesh-flag-off a'],
  ['no gateway', (f: Fleet) => void (f.cluster('b').gateways = []), 'gateway-missing b'],
  [
    'gateway critical',
    (f: Fleet) => void (f.cluster('b').gateways = [gateway('critical'), gateway('warning')]),
    'gateway-not-passing b',
  ],
  [
    'gateway token deleted in Consul',
    (f: Fleet) => {
      f.cluster('a').tokens.clear();
    },
    'gateway-token-missing-in-consul a',
  ],
])('%s is found exactly', async (_name, inject, expected) => {
  const fleet = await pairOfClusters();
  inject(fleet);
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual([expected]);
  expect(report.findings[0]?.remedy).toMatch(/^re-runs onboarding/);
});

test('a missing gateway token secret is found without asking Consul for a token', async () => {
  const fleet = await pairOfClusters();
  await fleet.secrets.delete(gatewayTokenSecretName(PREFIX, 'b'));
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['gateway-token-secret-missing b']);
  expect(report.consulCalls).toBe(7);
  expect(fleet.cluster('b').calls).not.toContain('readToken');
});

test('a malformed gateway token secret is reported as needing a person (onboarding would refuse it)', async () => {
  const fleet = await pairOfClusters();
  await fleet.secrets.put(gatewayTokenSecretName(PREFIX, 'b'), '{"accessorId": 1}');
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['gateway-token-secret-missing b']);
  expect(report.findings[0]?.remedy).toMatch(/^needs a person: delete the malformed secret/);
});

test('gateway findings need a person when the connection secret has no gateway addresses', async () => {
  const fleet = new Fleet();
  await fleet.addCluster('a', { gateway: false, cluster: { gateways: [] } });
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['gateway-missing a']);
  expect(report.findings[0]?.remedy).toMatch(/^needs a person: register the mesh gateway/);
});

describe('a wanted peering is judged as a pair, one finding at most', () => {
  const cases: [string, (f: Fleet) => void, string[]][] = [
    ['ESTABLISHING is in progress', (f) => void (f.side('b', 'a').state = 'ESTABLISHING'), []],
    [
      'dialer deleted its side: acceptor TERMINATED',
      (f) => {
        f.cluster('b').peerings = [];
        f.side('a', 'b').state = 'TERMINATED';
      },
      ['peering-terminated a/b'],
    ],
    [
      'acceptor deleted its side: dialer TERMINATED',
      (f) => {
        f.cluster('a').peerings = [];
        f.side('b', 'a').state = 'TERMINATED';
      },
      ['peering-terminated a/b'],
    ],
    ['dialer side absent', (f) => void (f.cluster('b').peerings = []), ['peering-missing a/b']],
    ['dialer side DELETING', (f) => void (f.side('b', 'a').state = 'DELETING'), ['peering-missing a/b']],
    [
      'absent on both sides',
      (f) => {
        f.cluster('a').peerings = [];
        f.cluster('b').peerings = [];
      },
      ['peering-missing a/b'],
    ],
    ['FAILING', (f) => void (f.side('b', 'a').state = 'FAILING'), ['peering-failing a/b']],
    [
      'PENDING with a young token (the pipeline is at work)',
      (f) => {
        f.side('a', 'b').state = 'PENDING';
        f.cluster('b').peerings = [];
      },
      [],
    ],
  ];
  test.each(cases)('%s', async (_name, inject, expected) => {
    const fleet = await pairOfClusters();
    inject(fleet);
    const report = await scanDrift(fleet.context());
    expect(labels(report)).toEqual(expected);
    expect(report.consulCalls).toBe(8);
  });
});

test('PENDING for longer than the limit since the token was generated is stuck', async () => {
  const fleet = new Fleet();
  await fleet.addCluster('a');
  await fleet.addCluster('b');
  await fleet.addPeering('a', 'b', 20 * 60_000);
  fleet.side('a', 'b').state = 'PENDING';
  fleet.cluster('b').peerings = [];
  expect(labels(await scanDrift(fleet.context()))).toEqual(['peering-pending-too-long a/b']);
  const relaxed = await scanDrift(fleet.context(), { pendingTooLongMs: 30 * 60_000 });
  expect(relaxed.findings).toEqual([]);
  const report = await scanDrift(fleet.context(), { pendingTooLongMs: 60_000 });
  expect(report.findings[0]?.detail).toMatch(/PENDING 20 min after its token was generated \(limit 60 s\)/);
});

test('PENDING without a usable stored token is stuck whatever its age', async () => {
  const fleet = await pairOfClusters();
  fleet.side('a', 'b').state = 'PENDING';
  await fleet.secrets.delete(peeringTokenSecretName(PREFIX, 'a', 'b'));
  expect(labels(await scanDrift(fleet.context()))).toEqual(['peering-pending-too-long a/b']);

  await fleet.secrets.put(
    peeringTokenSecretName(PREFIX, 'a', 'b'),
    JSON.stringify({ peeringToken: 't', peeringId: 'older', acceptor: 'a', dialer: 'b', generatedAt: NOW }),
  );
  const report = await scanDrift(fleet.context());
  expect(report.findings[0]?.detail).toMatch(/belongs to an older peering/);
});

test('a token secret without a wanted peering is an orphan; one with a wanted peering is not', async () => {
  const fleet = await pairOfClusters();
  await fleet.secrets.put(peeringTokenSecretName(PREFIX, 'b', 'a'), '{}');
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['orphan-peering-token b/a']);
  expect(report.findings[0]?.detail).toContain('p/peering-tokens/b/a');
});

test('an unreachable cluster is one finding, its pairs are not judged, and the others are scanned', async () => {
  const fleet = await pairOfClusters();
  await fleet.addCluster('c');
  await fleet.addPeering('a', 'c');
  fleet.cluster('c').failWith = unreachable();
  fleet.cluster('a').mesh = undefined;
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['mesh-config-missing a', 'cluster-unreachable c']);
  expect(report.findings[1]?.detail).toMatch(
    /cannot read the Consul of c at https:\/\/c.example:8501: .*connection refused/,
  );
  expect(report.findings[1]?.remedy).toMatch(/^needs a person/);
  expect(report).toMatchObject({ clusters: 3, peerings: 2 });
});

test('our own deadline and a bad connection secret also make a cluster unreachable', async () => {
  const fleet = await pairOfClusters();
  fleet.cluster('a').failWith = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
  await fleet.secrets.put(clusterSecretName(PREFIX, 'b'), '{"address": "ftp://nope"}');
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['cluster-unreachable a', 'cluster-unreachable b']);
  expect(report.findings[0]?.detail).toMatch(/cannot read the Consul of a at .*: no answer within 20 s/);
  expect(report.findings[1]?.detail).toMatch(/connection secret of cluster "b" is invalid at "address"/);
});

test('a wanted peering naming an unregistered cluster is reported once', async () => {
  const fleet = await pairOfClusters();
  await fleet.secrets.put('p/peerings/a/ghost', '{}');
  await fleet.secrets.put('p/peerings/b/ghost', '{}');
  const report = await scanDrift(fleet.context());
  expect(labels(report)).toEqual(['cluster-unreachable ghost']);
  expect(report.peerings).toBe(3);
});

test('anything else that fails is not hidden as a finding', async () => {
  const fleet = await pairOfClusters();
  fleet.cluster('b').failWith = new TypeError('a bug');
  await expect(scanDrift(fleet.context())).rejects.toThrow('a bug');
});

test('calls grow with clusters only, and at most `concurrency` clusters are read at once', async () => {
  const fleet = new Fleet();
  const names = Array.from({ length: 8 }, (_, i) => `c${i}`);
  for (const name of names) await fleet.addCluster(name, { cluster: { latencyMs: 5 } });
  for (const [i, acceptor] of names.entries()) {
    for (const dialer of names.slice(i + 1)) await fleet.addPeering(acceptor, dialer);
  }
  const report = await scanDrift(fleet.context(), { concurrency: 3 });
  expect(report).toMatchObject({ clusters: 8, peerings: 28, findings: [], consulCalls: 32 });
  expect(fleet.inFlight.max).toBeLessThanOrEqual(3 * 4);
  expect(fleet.inFlight.max).toBeGreaterThan(4);
});
