import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConsulClient } from '#commons/consul/client';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMoto, type MotoServer } from '#devkit/moto';
import { OwnedProcess } from '#devkit/owned-process';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';

// `npm run deployed -- -f FLEET`, the command the README gives for trying a release against your own
// clusters, run as a user runs it: a child process with only PATH, the AWS endpoint (moto here) and
// the tokens' variables. It synthesizes the stack, runs every bundle in the Lambda runtime, and applies
// a fleet of two real Consul datacenters through it (peerctl apply --aws, the deployed pipeline).
const DEADLINE_MS = 280_000;

let clusters: LocalConsulCluster[];
let gateways: SniRoutingGateway[];
let moto: MotoServer;
let dir: string;

beforeAll(async () => {
  [clusters, moto] = await Promise.all([startConsulClusters(2), startMoto()]);
  gateways = await startMeshGateways(clusters);
  dir = await mkdtemp(path.join(tmpdir(), 'deployed-command-'));
}, 120_000);

afterAll(async () => {
  await Promise.all(gateways.map((gateway) => gateway.close()));
  await Promise.all([...clusters.map((cluster) => cluster.stop()), moto.stop()]);
  await rm(dir, { recursive: true, force: true });
});

test('npm run deployed -- -f FLEET peers two clusters through the deployed bundles, exit 0, no token printed', async () => {
  const fleet = path.join(dir, 'fleet.yaml');
  const cluster = (i: number) => {
    const c = clusters[i] as LocalConsulCluster;
    const port = (gateways[i] as SniRoutingGateway).port;
    return `  - name: ${c.datacenter}
    address: ${c.address}
    tokenEnv: TOKEN_${c.datacenter.toUpperCase()}
    gateway:
      lan: { address: 127.0.0.1, port: ${port} }
      wan: { address: 127.0.0.1, port: ${port} }`;
  };
  const [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  await writeFile(
    fleet,
    `clusters:\n${cluster(0)}\n${cluster(1)}\npeerings:\n  - { acceptor: ${dc1.datacenter}, dialer: ${dc2.datacenter}, exportServices: [web] }\n`,
  );
  const command = new OwnedProcess(
    'npm run deployed',
    path.join(process.cwd(), 'node_modules/.bin/tsx'),
    ['scripts/run-deployed.ts', '-f', fleet],
    {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_REGION: moto.clientConfig.region,
        AWS_ACCESS_KEY_ID: moto.clientConfig.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: moto.clientConfig.credentials.secretAccessKey,
        [`TOKEN_${dc1.datacenter.toUpperCase()}`]: dc1.managementToken,
        [`TOKEN_${dc2.datacenter.toUpperCase()}`]: dc2.managementToken,
        ...(process.env.LAMBDA_RIE_BIN !== undefined && { LAMBDA_RIE_BIN: process.env.LAMBDA_RIE_BIN }),
        ...(process.env.LAMBDA_RIC_ENTRY !== undefined && { LAMBDA_RIC_ENTRY: process.env.LAMBDA_RIC_ENTRY }),
      },
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    command.exited(),
    new Promise<'deadline'>(
      (resolve) =>
        (timer = setTimeout(() => {
          resolve('deadline');
        }, DEADLINE_MS)),
    ),
  ]);
  clearTimeout(timer);
  if (code === 'deadline') await command.stop();
  const output = command.output;
  expect({ code, tail: code === 0 ? '' : output.slice(-6000) }).toEqual({ code: 0, tail: '' });

  expect(output).toMatch(/cdk synth: bundling the functions as for a deploy/);
  expect(output).toMatch(/functions in the Lambda runtime, \d+ queues at http:\/\/127\.0\.0\.1:/);
  expect(output).toMatch(/^\[onboard-cluster\] .*INIT REPORT/m); // the functions' own runtime lines
  expect(output).toMatch(/^\[dial-peering\] /m);
  expect(output).toMatch(/^applied$/m);
  for (const [side, peer] of [
    [dc1, dc2],
    [dc2, dc1],
  ] as const) {
    const client = new ConsulClient({ address: side.address, token: side.managementToken });
    try {
      expect((await client.readPeering(peer.datacenter))?.state).toBe('ACTIVE');
    } finally {
      await client.close();
    }
  }
  // Both gateways carried the peering's traffic: the control plane went through them.
  for (const gateway of gateways) expect(gateway.counters.total.connections).toBeGreaterThan(0);
  for (const token of [dc1.managementToken, dc2.managementToken]) expect(output).not.toContain(token);
}, 300_000);
