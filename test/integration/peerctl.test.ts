import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/peerctl';
import type { PeeringReport, ClusterReport } from '../../cli/commands/status';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ConsulClient } from '#commons/consul/client';
import { FileSecretStore } from '#commons/local/file-secret-store';
import {
  clusterSecretName,
  gatewayTokenSecretName,
  peeringRecordSecretName,
  peeringTokenSecretName,
} from '#commons/naming';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { TOKEN_VERSION_KEY } from '#commons/workflows/dial-peering';
import { LocalPipeline } from '../../local/pipeline';
import { freePorts } from '#devkit/free-port';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMoto, type MotoServer } from '#devkit/moto';
import { pollUntil } from '#devkit/poll';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { lastTestFailed } from '../support/integration-setup';

// peerctl end to end on the local runtime: two real Consul datacenters (ACLs on), SNI-routing TCP
// relays standing in for the mesh gateways (registered through `cluster add --gateway-lan/--gateway-wan`),
// a temporary secret file, and the CLI's main() called in-process with its output captured.
const PREFIX = 'consul-peering';

let clusters: LocalConsulCluster[];
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;
let gateway1: SniRoutingGateway, gateway2: SniRoutingGateway;
let dir: string;
let secretsFile: string;
let secrets: FileSecretStore;
const printed: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs peerctl in-process with the settings a test world wants (1 s checks) and captured output. */
async function run(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(argv, {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    env: { GATEWAY_CHECK_INTERVAL: '1s', RETRY_CAP_SECONDS: '2', TOKEN_DC2: dc2.managementToken, ...env },
  });
  printed.push(...stdout, ...stderr);
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}

/** `peerctl ...argv` on the local backend, with the test's secret file. */
const peerctl = (...argv: string[]): Promise<Run> => run([...argv, '--secrets-file', secretsFile]);

const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });

async function peeringOn(cluster: LocalConsulCluster, peer: string) {
  const client = admin(cluster);
  try {
    return await client.readPeering(peer);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  clusters = await startConsulClusters(2);
  [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  // Each gateway routes its own datacenter's server name locally and the other's to the other gateway.
  [gateway1, gateway2] = (await startMeshGateways(clusters)) as [SniRoutingGateway, SniRoutingGateway];
  dir = await mkdtemp(join(tmpdir(), 'peerctl-'));
  secretsFile = join(dir, 'secrets.json');
  secrets = new FileSecretStore({ path: secretsFile });
}, 90_000);

afterAll(async () => {
  await Promise.all([gateway1.close(), gateway2.close()]);
  await Promise.all(clusters.map((c) => c.stop()));
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  if (lastTestFailed()) {
    console.error(`--- peerctl output ---\n${printed.slice(-60).join('\n')}`);
  }
});

test('cluster add x2 stores the connection secrets (with the gateway) and onboards both clusters', async () => {
  const tokenFile = join(dir, 'dc1.token');
  await writeFile(tokenFile, `${dc1.managementToken}\n`, { mode: 0o600 });
  const gw1 = `127.0.0.1:${gateway1.port}`;
  const added1 = await peerctl(
    'cluster', 'add', 'dc1', '--address', dc1.address, '--token-file', tokenFile,
    '--gateway-lan', gw1, '--gateway-wan', gw1,
  ); // prettier-ignore
  expect(added1).toMatchObject({ code: 0 });
  expect(added1.stdout).toMatch(
    /^dc1\s+onboarded\s+gateway token in Consul, gateway mesh-gateway passing \(1\/1\), mesh flag on$/m,
  );

  const gw2 = `127.0.0.1:${gateway2.port}`;
  const added2 = await peerctl(
    'cluster', 'add', 'dc2', '--address', dc2.address, '--token-env', 'TOKEN_DC2',
    '--gateway-lan', gw2, '--gateway-wan', gw2,
  ); // prettier-ignore
  expect(added2).toMatchObject({ code: 0 });
  expect(added2.stderr).toMatch(/cluster\.registered\s+dc2/);

  const stored = await secrets.get(clusterSecretName(PREFIX, 'dc1'));
  expect(JSON.parse(stored?.value ?? '{}')).toEqual({
    address: dc1.address,
    token: dc1.managementToken,
    gateway: {
      serviceName: 'mesh-gateway',
      lan: { address: '127.0.0.1', port: gateway1.port },
      wan: { address: '127.0.0.1', port: gateway1.port },
    },
  });
  for (const cluster of [dc1, dc2]) {
    const client = admin(cluster);
    const mesh = await client.readConfigEntryRaw('mesh', 'mesh');
    expect(mesh?.entry).toMatchObject({ Peering: { PeerThroughMeshGateways: true } });
    await client.close();
  }
});

test('peer --export web --wait ends ACTIVE on both sides, through both gateways, with the export', async () => {
  const run = await peerctl('peer', 'dc1', 'dc2', '--export', 'web', '--wait');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^dc1 -> dc2\s+established\s+dc1 ACTIVE \/ dc2 ACTIVE, peering id /m);
  expect((await peeringOn(dc1, 'dc2'))?.state).toBe('ACTIVE');
  expect((await peeringOn(dc2, 'dc1'))?.state).toBe('ACTIVE');
  // dc2's gateway routed dc1's server name to dc1's gateway, which routed it to its own server.
  expect(gateway2.routed('dc1').bytesIn).toBeGreaterThan(0);
  expect(gateway1.routed('dc1').bytesIn).toBeGreaterThan(0);
  expect([...gateway1.unroutedReasons, ...gateway2.unroutedReasons]).toEqual([]);
  const client = admin(dc1);
  const exported = await client.readConfigEntryRaw('exported-services', 'default');
  expect(exported?.entry.Services).toEqual([{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }]);
  await client.close();
});

test('status --json reads both clusters and the peering from Consul; the table says the same', async () => {
  const run = await peerctl('status', '--json');
  expect(run.code).toBe(0);
  const report = JSON.parse(run.stdout) as { clusters: ClusterReport[]; peerings: PeeringReport[] };
  expect(report.clusters.map((c) => c.name)).toEqual(['dc1', 'dc2']);
  for (const cluster of report.clusters) {
    expect(cluster).toMatchObject({
      reachable: true,
      meshThroughGateways: true,
      gatewayToken: 'present',
      gateway: { service: 'mesh-gateway', instances: 1, passing: 1 },
      peeringCount: 1,
    });
  }
  expect(report.peerings).toEqual([
    expect.objectContaining({
      acceptor: 'dc1',
      dialer: 'dc2',
      wanted: true,
      exportServices: ['web'],
      acceptorSide: expect.objectContaining({ state: 'ACTIVE' }) as unknown,
      dialerSide: expect.objectContaining({ state: 'ACTIVE' }) as unknown,
    }),
  ]);

  const table = await peerctl('status', 'dc2');
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(
    /^\s+dc2\s+http:\/\/127\.0\.0\.1:\d+\s+mesh-gateway passing \(1\/1\)\s+on\s+in Consul\s+1$/m,
  );
  expect(table.stdout).toMatch(/^\s+dc1 -> dc2\s+ACTIVE\s+ACTIVE\s+.+\s+yes\s+web$/m);
});

test('plan finds no drift on the converged pair (exit 0)', async () => {
  const run = await peerctl('plan');
  expect(run.stdout).toMatch(/scanned 2 cluster\(s\), 1 wanted peering\(s\)/);
  expect(run.stdout).toMatch(/^no drift$/m);
  expect(run.code).toBe(0);
  const json = await peerctl('plan', '--json');
  expect(JSON.parse(json.stdout)).toMatchObject({ report: { findings: [] }, actions: { publish: [] } });
});

test('rotate: a new gateway token is AWSCURRENT, the one it replaced stays valid until the next rotation', async () => {
  const name = gatewayTokenSecretName(PREFIX, 'dc1');
  const tokenIn = async (versionId?: string) => {
    const stored = await secrets.get(name, versionId === undefined ? {} : { versionId });
    return JSON.parse(stored?.value ?? '{}') as { accessorId: string; secretId: string };
  };
  const first = await tokenIn();
  const rotated = await peerctl('rotate', 'dc1', '--json');
  expect(rotated.code).toBe(0);
  expect(rotated.stderr).toMatch(/rotation testSecret: done/);
  const printedVersions = JSON.parse(rotated.stdout) as { currentVersion: string; previousVersion: string };
  const second = await tokenIn();
  expect(second.accessorId).not.toBe(first.accessorId);
  const stages = (await secrets.versions(name))?.stages ?? {};
  const labelled = (label: string) => Object.keys(stages).find((id) => stages[id]?.includes(label)) ?? '';
  expect((await tokenIn(labelled('AWSPREVIOUS'))).accessorId).toBe(first.accessorId);
  expect(printedVersions).toMatchObject({
    cluster: 'dc1',
    currentVersion: labelled('AWSCURRENT').slice(0, 8),
    previousVersion: labelled('AWSPREVIOUS').slice(0, 8),
  });

  const client = admin(dc1);
  try {
    expect(await client.readToken(first.accessorId)).toBeDefined(); // still valid: the grace period
    const again = await peerctl('rotate', 'dc1');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(
      /^dc1: gateway token rotated; AWSCURRENT is version [0-9a-f]{8}, AWSPREVIOUS [0-9a-f]{8}$/m,
    );
    expect(await client.readToken(first.accessorId)).toBeUndefined(); // two rotations old: deleted
    expect(await client.readToken(second.accessorId)).toBeDefined();
  } finally {
    await client.close();
  }
  // Drift knows rotated tokens: the previous one is not a duplicate.
  expect((await peerctl('plan')).code).toBe(0);
  expect((await peerctl('rotate', 'dc9')).stderr).toMatch(/unknown cluster "dc9"/);
});

test('status shows an unreachable cluster as such and still reads the others (exit 1)', async () => {
  const [closedPort] = await freePorts(1);
  await secrets.put(
    clusterSecretName(PREFIX, 'dc9'),
    JSON.stringify({
      address: `http://127.0.0.1:${closedPort ?? 1}`,
      token: 'an-unreachable-clusters-token',
    }),
  );
  try {
    const run = await peerctl('status');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^\s+dc9\s+http:\/\/127\.0\.0\.1:\d+\s+unreachable/m);
    expect(run.stdout).toMatch(/^\s+dc9: .*(refused|connect)/im);
    expect(run.stdout).toMatch(/^\s+dc1 -> dc2\s+ACTIVE\s+ACTIVE/m);
    expect(run.stdout).not.toContain('an-unreachable-clusters-token');
  } finally {
    await secrets.delete(clusterSecretName(PREFIX, 'dc9'));
  }
});

test('unpeer deletes both sides and the secrets, and is idempotent', async () => {
  const run = await peerctl('unpeer', 'dc2', 'dc1');
  expect(run.code).toBe(0);
  for (const [cluster, peer] of [
    [dc1, 'dc2'],
    [dc2, 'dc1'],
  ] as const) {
    const left = await peeringOn(cluster, peer);
    expect(left === undefined || left.state === 'TERMINATED').toBe(true);
  }
  expect(await secrets.get(peeringTokenSecretName(PREFIX, 'dc1', 'dc2'))).toBeUndefined();
  expect(await secrets.get(peeringRecordSecretName(PREFIX, 'dc1', 'dc2'))).toBeUndefined();
  expect(run.stdout).toContain(`deleted secret ${peeringRecordSecretName(PREFIX, 'dc1', 'dc2')}`);

  const again = await peerctl('unpeer', 'dc1', 'dc2');
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/dc1: peering "dc2" already absent/);
  expect(again.stdout).not.toContain('deleted secret');
});

test('regenerate after a new peer: a new token version, and the dialer re-established with it in place', async () => {
  const peered = await peerctl('peer', 'dc1', 'dc2');
  expect(peered.code).toBe(0);
  const tokenSecret = peeringTokenSecretName(PREFIX, 'dc1', 'dc2');
  const before = await secrets.get(tokenSecret);
  const idBefore = (await peeringOn(dc1, 'dc2'))?.id;

  const run = await peerctl('regenerate', 'dc1', 'dc2');
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/peering\.requested\s+dc1 accepts, dc2 dials \(new token\)/);
  const after = await secrets.get(tokenSecret);
  expect(after?.versionId).not.toBe(before?.versionId);
  const [onDc1, onDc2] = [await peeringOn(dc1, 'dc2'), await peeringOn(dc2, 'dc1')];
  expect(onDc1?.state).toBe('ACTIVE');
  expect(onDc1?.id).toBe(idBefore); // in place: the same peering
  expect(onDc2?.state).toBe('ACTIVE');
  expect(onDc2?.meta[TOKEN_VERSION_KEY]).toBe(after?.versionId);

  // The wrong way round is refused before anything is published.
  const reversed = await peerctl('regenerate', 'dc2', 'dc1');
  expect(reversed.code).toBe(2);
  expect(reversed.stderr).toMatch(/already peered the other way round \(dc1 accepts, dc2 dials\)/);
});

test('mesh peers every pair, the name that sorts first accepting (an existing peering: a no-op)', async () => {
  const run = await peerctl('mesh', 'dc2', 'dc1');
  expect(run.code).toBe(0);
  expect(run.stderr).toMatch(/dc1 accepts, dc2 dials$/m);
  expect(run.stdout).toMatch(/^dc1 -> dc2\s+established/m);
});

test('drift: plan exits 3 and lists it, remediate heals it through the pipeline, plan is clean again', async () => {
  const client = admin(dc2);
  await client.deletePeering('dc1'); // the dialer's side is deleted: dc1 sees TERMINATED
  await client.close();
  await pollUntil('dc1 to see its peering TERMINATED', async () =>
    (await peeringOn(dc1, 'dc2'))?.state === 'TERMINATED' ? true : undefined,
  );
  const plan = await peerctl('plan');
  expect(plan.code).toBe(3);
  expect(plan.stdout).toMatch(/^\s+peering-(missing|terminated)\s+dc1\s+dc2\s+/m);
  expect(plan.stdout).toMatch(
    /^remediate would:\n\s+publish peering\.requested\s+dc1 accepts, dc2 dials \(new token\)/m,
  );

  const remediated = await peerctl('remediate');
  expect(remediated.code).toBe(0);
  expect(remediated.stdout).toMatch(/^dc1 -> dc2\s+established/m);
  expect((await peerctl('plan')).code).toBe(0);
});

test('bad flags exit 2, name the field, and change nothing', async () => {
  const before = await readFile(secretsFile, 'utf8');
  const cases: [string[], RegExp][] = [
    [['cluster', 'add', 'dc3', '--address', 'foo'], /--address: expected http\(s\):\/\/host:port, got "foo"/],
    [
      ['cluster', 'add', 'dc3', '--address', dc1.address, '--token-env', 'TOKEN_DC2', '--gateway-lan', '127.0.0.1:99999', '--gateway-wan', '127.0.0.1:1'],
      /--gateway-lan: expected host:port/,
    ],
    [['cluster', 'add', 'DC3', '--address', dc1.address], /<name>: expected a cluster name/],
    [['cluster', 'add', 'dc3', '--address', dc1.address, '--token-file', join(dir, 'missing')], /--token-file: cannot read .* \(no such file\)/],
    [['peer', 'dc1', 'dc9'], /unknown cluster "dc9"/],
    [['peer', 'dc1', 'dc2', '--export', 'web_1'], /--export: expected a service name/],
    [['status', '--concurrency', '0'], /--concurrency: expected a whole number, 1-64, got "0"/],
  ]; // prettier-ignore
  for (const [argv, message] of cases) {
    const run = await peerctl(...argv);
    expect({ argv, code: run.code }).toEqual({ argv, code: 2 });
    expect(run.stderr).toMatch(message);
  }
  expect(await readFile(secretsFile, 'utf8')).toBe(before);
});

describe('--aws: Secrets Manager and SQS on moto, consumed by the pipeline as the Lambda functions would', () => {
  let moto: MotoServer;
  let pipeline: LocalPipeline;
  let awsEnv: NodeJS.ProcessEnv;
  const aws = (...argv: string[]): Promise<Run> => run([...argv, '--aws'], awsEnv);

  beforeAll(async () => {
    moto = await startMoto();
    // The deployed pipeline's stand-in: the same handlers, consuming SQS queues on moto.
    pipeline = await LocalPipeline.aws({
      client: moto.clientConfig,
      queueNamePrefix: 'peerctl',
      visibilityTimeoutSeconds: 2,
      settings: {
        ...DEFAULT_SETTINGS,
        secretPrefix: PREFIX,
        gatewayCheckInterval: '1s',
        retryCapSeconds: 2,
      },
      logger: new Logger({ serviceName: 'pipeline', logLevel: 'SILENT' }),
    });
    pipeline.start();
    const sqs = new SQSClient(moto.clientConfig);
    const url = async (name: string) =>
      (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    awsEnv = {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: moto.clientConfig.region,
      ONBOARD_QUEUE_URL: await url('peerctl-onboard'),
      ACCEPT_QUEUE_URL: await url('peerctl-accept'),
    };
    sqs.destroy();
    // Credentials come from the SDK's usual chain, as for a person running peerctl.
    process.env.AWS_ACCESS_KEY_ID = moto.clientConfig.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = moto.clientConfig.credentials.secretAccessKey;
  }, 60_000);

  afterAll(async () => {
    await pipeline.stop();
    await moto.stop();
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  test('cluster add --aws --wait stores the connection secrets in Secrets Manager; onboarding converges', async () => {
    const tokenFile = join(dir, 'dc1.token');
    for (const [cluster, relay, token] of [
      [dc1, gateway1, ['--token-file', tokenFile]],
      [dc2, gateway2, ['--token-env', 'TOKEN_DC2']],
    ] as const) {
      const gw = `127.0.0.1:${relay.port}`;
      const added = await aws(
        'cluster', 'add', cluster.datacenter, '--address', cluster.address, ...token,
        '--gateway-lan', gw, '--gateway-wan', gw, '--wait',
      ); // prettier-ignore
      expect(added.code).toBe(0);
      expect(added.stderr).toMatch(/published cluster\.registered\s+dc\d/);
      expect(added.stdout).toMatch(/^dc\d\s+onboarded/m);
    }
    const stored = await pipeline.secrets.get(clusterSecretName(PREFIX, 'dc2'));
    expect(JSON.parse(stored?.value ?? '{}')).toMatchObject({
      address: dc2.address,
      gateway: { serviceName: 'mesh-gateway' },
    });
  });

  test('unpeer, then peer --aws --wait polls Consul until ACTIVE on both sides with the export', async () => {
    expect((await aws('unpeer', 'dc1', 'dc2')).code).toBe(0);
    const published = await aws('peer', 'dc1', 'dc2', '--export', 'api');
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(/^dc1 -> dc2\s+published\s+correlation id peerctl-/m);

    const waited = await aws('peer', 'dc1', 'dc2', '--export', 'api', '--wait', '--timeout', '60');
    expect(waited.code).toBe(0);
    expect(waited.stderr).toMatch(/dc1 -> dc2: acceptor \w+, dialer \w+, exports/);
    expect(waited.stdout).toMatch(/^dc1 -> dc2\s+established\s+dc1 ACTIVE \/ dc2 ACTIVE, peering id /m);
    expect((await peeringOn(dc2, 'dc1'))?.state).toBe('ACTIVE');
  });

  test('regenerate --aws --wait ends when the dialer runs on the new token version', async () => {
    const tokenSecret = peeringTokenSecretName(PREFIX, 'dc1', 'dc2');
    const before = await pipeline.secrets.get(tokenSecret);
    const regenerated = await aws('regenerate', 'dc1', 'dc2', '--wait', '--timeout', '60');
    expect(regenerated.code).toBe(0);
    const after = await pipeline.secrets.get(tokenSecret);
    expect(after?.versionId).not.toBe(before?.versionId);
    expect((await peeringOn(dc2, 'dc1'))?.meta[TOKEN_VERSION_KEY]).toBe(after?.versionId);
  });

  test('status --aws and plan --aws read the desired state from Secrets Manager', async () => {
    const status = await aws('status', '--json');
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as { peerings: PeeringReport[] };
    expect(report.peerings).toEqual([
      expect.objectContaining({
        acceptor: 'dc1',
        dialer: 'dc2',
        wanted: true,
        exportServices: ['api'],
        acceptorSide: expect.objectContaining({ state: 'ACTIVE' }) as unknown,
        dialerSide: expect.objectContaining({ state: 'ACTIVE' }) as unknown,
      }),
    ]);
    const plan = await aws('plan');
    expect(plan.stdout).toMatch(/^no drift$/m);
    expect(plan.code).toBe(0);
  });
});

test('no token appears in anything peerctl printed', async () => {
  const tokens = [dc1.managementToken, dc2.managementToken];
  for (const cluster of ['dc1', 'dc2']) {
    const stored = await secrets.get(gatewayTokenSecretName(PREFIX, cluster));
    tokens.push((JSON.parse(stored?.value ?? '{}') as { secretId: string }).secretId);
  }
  const peering = await secrets.get(peeringTokenSecretName(PREFIX, 'dc1', 'dc2'));
  tokens.push((JSON.parse(peering?.value ?? '{}') as { peeringToken: string }).peeringToken);
  expect(printed.some((line) => line.includes('aws: Secrets Manager and SQS'))).toBe(true); // runs last
  expect(printed.length).toBeGreaterThan(20);
  for (const token of tokens) {
    expect(token.length).toBeGreaterThan(30);
    expect(printed.filter((line) => line.includes(token))).toEqual([]);
  }
});
