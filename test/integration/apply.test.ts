import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/peerctl';
import { ConsulClient } from '#commons/consul/client';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { clusterSecretName, peeringRecordSecretName, peeringTokenSecretName } from '#commons/naming';
import { freePorts } from '#devkit/free-port';
import { HttpFaultLayer, type RequestInfo } from '#devkit/http-fault-layer';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { lastTestFailed } from '../support/integration-setup';

// peerctl apply end to end on the local runtime: three real Consul datacenters (ACLs on), SNI-routing
// TCP relays standing in for the mesh gateways, a fleet file in a temporary directory, and the CLI's
// main() in-process. Each cluster's address in the file is an HTTP layer in front of its API that
// records every request, so "no Consul writes" is counted where Consul would see them: whatever
// peerctl or the pipeline's handlers call, it goes through there.
const PREFIX = 'consul-peering';
const NAMES = ['dc1', 'dc2', 'dc3'] as const;

let clusters: LocalConsulCluster[];
let gateways: SniRoutingGateway[];
let layers: HttpFaultLayer[];
const requests: (RequestInfo & { cluster: string })[] = [];
let dir: string;
let secretsFile: string;
let secrets: FileSecretStore;
const printed: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `peerctl apply -f FILE ...` in-process with the test world's settings (1 s checks), output captured. */
async function apply(file: string, ...flags: string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const env: NodeJS.ProcessEnv = { GATEWAY_CHECK_INTERVAL: '1s', RETRY_CAP_SECONDS: '2' };
  for (const [i, cluster] of clusters.entries()) env[`TOKEN_DC${i + 1}`] = cluster.managementToken;
  const code = await main(['apply', '-f', file, '--secrets-file', secretsFile, ...flags], {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    env,
  });
  printed.push(...stdout, ...stderr);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);
const writesSince = (mark: number): string[] =>
  requests
    .slice(mark)
    .filter((r) => WRITE_METHODS.has(r.method))
    .map((r) => `${r.cluster} ${r.method} ${r.path}`);

interface FleetPeering {
  acceptor: string;
  dialer: string;
  exportServices?: string[];
}

/** A fleet file naming these clusters (by index) and peerings; addresses are the recording layers. */
async function fleetFile(
  name: string,
  clusterNames: readonly string[],
  peerings: FleetPeering[],
  extra: { clusters?: object[] } = {},
): Promise<string> {
  const lines = ['clusters:'];
  for (const cluster of clusterNames) {
    const i = NAMES.indexOf(cluster as (typeof NAMES)[number]);
    const gateway = gateways[i] as SniRoutingGateway;
    lines.push(
      `  - name: ${cluster}`,
      `    address: ${(layers[i] as HttpFaultLayer).endpoint}`,
      `    tokenEnv: TOKEN_DC${i + 1}`,
      `    gateway:`,
      `      lan: { address: 127.0.0.1, port: ${gateway.port} }`,
      `      wan: { address: 127.0.0.1, port: ${gateway.port} }`,
    );
  }
  for (const cluster of extra.clusters ?? []) lines.push(`  - ${JSON.stringify(cluster)}`);
  lines.push('peerings:');
  for (const p of peerings) lines.push(`  - ${JSON.stringify(p)}`);
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

const admin = (i: number): ConsulClient =>
  new ConsulClient({
    address: (clusters[i] as LocalConsulCluster).address,
    token: (clusters[i] as LocalConsulCluster).managementToken,
  });

async function stateOn(i: number, peer: string): Promise<string> {
  const client = admin(i);
  try {
    return (await client.readPeering(peer))?.state ?? 'absent';
  } finally {
    await client.close();
  }
}

const hasSecret = async (name: string): Promise<boolean> =>
  (await secrets.list({ namePrefix: name })).some((s) => s.name === name);

beforeAll(async () => {
  clusters = await startConsulClusters(3);
  gateways = await startMeshGateways(clusters);
  layers = await Promise.all(
    clusters.map(async (cluster) => {
      const layer = await HttpFaultLayer.listen({ host: '127.0.0.1', port: cluster.ports.http });
      layer.inject({
        match: (info) => {
          requests.push({ ...info, cluster: cluster.datacenter });
          return false;
        },
        action: { kind: 'respond', status: 500, body: '' },
      });
      return layer;
    }),
  );
  dir = await mkdtemp(join(tmpdir(), 'peerctl-apply-'));
  secretsFile = join(dir, 'secrets.json');
  secrets = new FileSecretStore({ path: secretsFile });
}, 120_000);

afterAll(async () => {
  await Promise.all(layers.map((l) => l.close()));
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(clusters.map((c) => c.stop()));
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  if (lastTestFailed()) console.error(`--- peerctl output ---\n${printed.slice(-80).join('\n')}`);
});

test('a bad file names every problem at once, exits 2, and writes nothing anywhere', async () => {
  const mark = requests.length;
  const file = await fleetFile(
    'bad.yaml',
    ['dc1', 'dc2'],
    [
      { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web', 'not a service'] },
      { acceptor: 'dc1', dialer: 'dc9' },
    ],
    { clusters: [{ name: 'DC4', address: 'consul:8500', tokenEnv: 'TOKEN_DC1' }] },
  );
  const run = await apply(file);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain(`${file}: 4 problem(s), nothing was changed`);
  expect(run.stderr).toMatch(
    /^ {2}clusters\[2\]\.address: expected http\(s\):\/\/host:port, got "consul:8500"$/m,
  );
  expect(run.stderr).toMatch(/^ {2}clusters\[2\]\.name: expected a DNS label.*, got "DC4"$/m);
  expect(run.stderr).toMatch(
    /^ {2}peerings\[0\]\.exportServices\[1\]: expected a service name.*, got "not a service"$/m,
  );
  expect(run.stderr).toMatch(
    /^ {2}peerings\[1\]\.dialer: expected a cluster named in clusters \(dc1, dc2, DC4\), got "dc9"$/m,
  );
  expect(writesSince(mark)).toEqual([]);
  expect(requests.length).toBe(mark);
  await expect(readFile(secretsFile)).rejects.toThrow(/ENOENT/);
});

let fleet: string;

test('apply registers the clusters and establishes the peerings: ACTIVE on both sides, with the exports', async () => {
  fleet = await fleetFile(
    'fleet.yaml',
    ['dc1', 'dc2', 'dc3'],
    [
      { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] },
      { acceptor: 'dc1', dialer: 'dc3' },
    ],
  );
  const dry = await apply(fleet, '--dry-run');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain('3 to register, 2 to request, 0 to change, 0 to delete');
  await expect(readFile(secretsFile)).rejects.toThrow(/ENOENT/);

  const mark = requests.length;
  const run = await apply(fleet);
  expect(run.code).toBe(0);
  // The layers see the pipeline's writes (what makes the "no write" checks below mean something).
  expect(writesSince(mark).length).toBeGreaterThan(10);
  expect(run.stdout).toMatch(/^ {2}\+ dc1 -> dc2 {2}request \(exports: web\)$/m);
  for (const name of NAMES) expect(run.stdout).toMatch(new RegExp(`^${name}\\s+onboarded\\s+`, 'm'));
  expect(run.stdout).toMatch(/^dc1 -> dc2\s+established\s+dc1 ACTIVE \/ dc2 ACTIVE/m);
  expect(run.stdout).toMatch(/^dc1 -> dc3\s+established\s+dc1 ACTIVE \/ dc3 ACTIVE/m);
  expect(run.stdout).toMatch(/^applied$/m);
  expect(await stateOn(0, 'dc2')).toBe('ACTIVE');
  expect(await stateOn(1, 'dc1')).toBe('ACTIVE');
  expect(await stateOn(0, 'dc3')).toBe('ACTIVE');
  expect(await stateOn(2, 'dc1')).toBe('ACTIVE');
  const client = admin(0);
  const exported = await client.readConfigEntryRaw('exported-services', 'default');
  await client.close();
  expect(exported?.entry.Services).toEqual([{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }]);
  // Stored as cluster add stores it: the address as written in the file (the recording layer).
  expect(JSON.parse((await secrets.get(clusterSecretName(PREFIX, 'dc1')))?.value ?? '{}')).toMatchObject({
    address: layers[0]?.endpoint,
    token: clusters[0]?.managementToken,
  });
}, 240_000);

test('applying the same file again: the plan says "no changes", and Consul sees no write', async () => {
  const mark = requests.length;
  const run = await apply(fleet);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^no changes$/m);
  expect(run.stdout).not.toMatch(/^ {2}[+~-] /m);
  expect(writesSince(mark)).toEqual([]);
  // Not even a read: the plan is computed from the records, and nothing was left to do.
  expect(requests.length).toBe(mark);
}, 60_000);

test('an unreachable cluster is reported and skipped with its peering; the rest is applied (exit 1)', async () => {
  const [closed] = await freePorts(1);
  const file = await fleetFile(
    'unreachable.yaml',
    ['dc1', 'dc2', 'dc3'],
    [
      { acceptor: 'dc1', dialer: 'dc2', exportServices: ['api', 'web'] },
      { acceptor: 'dc1', dialer: 'dc3' },
      { acceptor: 'dc1', dialer: 'dc9' },
    ],
    { clusters: [{ name: 'dc9', address: `http://127.0.0.1:${closed ?? 1}`, tokenEnv: 'TOKEN_DC1' }] },
  );
  const run = await apply(file);
  expect(run.code).toBe(1);
  expect(run.stdout).toMatch(/^dc9\s+not registered\s+cannot use cluster "dc9"/m);
  expect(run.stdout).toMatch(/^dc1 -> dc9\s+skipped\s+cluster dc9 was not registered$/m);
  expect(run.stdout).toMatch(/^ {2}~ dc1 -> dc2 {2}request again \(exports: web -> api, web\)$/m);
  expect(run.stdout).toMatch(/^dc1 -> dc2\s+established/m);
  expect(await hasSecret(clusterSecretName(PREFIX, 'dc9'))).toBe(false);
  const client = admin(0);
  const exported = await client.readConfigEntryRaw('exported-services', 'default');
  await client.close();
  expect(exported?.entry.Services).toEqual(
    expect.arrayContaining([{ Name: 'api', Consumers: [{ Peer: 'dc2' }] }]),
  );
}, 120_000);

test('without --prune a dropped peering and cluster are kept; --prune deletes them on both sides, with their secrets', async () => {
  const smaller = await fleetFile(
    'smaller.yaml',
    ['dc1', 'dc2'],
    [{ acceptor: 'dc1', dialer: 'dc2', exportServices: ['api', 'web'] }],
  );
  const mark = requests.length;
  const kept = await apply(smaller);
  expect(kept.code).toBe(0);
  expect(kept.stdout).toMatch(
    /not in the file, kept \(--prune would delete them\)\n {4}dc1 -> dc3\n {4}cluster dc3/,
  );
  expect(kept.stdout).toMatch(/^no changes$/m);
  expect(writesSince(mark)).toEqual([]);
  expect(await stateOn(0, 'dc3')).toBe('ACTIVE');

  const pruned = await apply(smaller, '--prune');
  expect(pruned.code).toBe(0);
  expect(pruned.stdout).toMatch(/^ {2}- dc1 -> dc3 {2}delete \(not in the file; --prune\)$/m);
  expect(pruned.stdout).toMatch(/^cluster dc3 {2}deleted/m);
  expect(await stateOn(0, 'dc3')).toBe('absent');
  expect(['absent', 'TERMINATED']).toContain(await stateOn(2, 'dc1'));
  expect(await stateOn(0, 'dc2')).toBe('ACTIVE');
  for (const name of [
    clusterSecretName(PREFIX, 'dc3'),
    peeringRecordSecretName(PREFIX, 'dc1', 'dc3'),
    peeringTokenSecretName(PREFIX, 'dc1', 'dc3'),
  ])
    expect({ name, present: await hasSecret(name) }).toEqual({ name, present: false });
  expect(await hasSecret(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'))).toBe(true);

  const again = await apply(smaller, '--prune');
  expect(again.stdout).toMatch(/^no changes$/m);
}, 120_000);
