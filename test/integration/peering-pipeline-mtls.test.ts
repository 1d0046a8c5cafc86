import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/peerctl';
import { ConsulClient } from '#commons/consul/client';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { createEvent, type ClusterRef } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import type { SniRoutingGateway } from '#devkit/sni-routing-gateway';
import type { LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startPipelineWorld, type PipelineWorld } from '../support/pipeline-world';

// The pipeline end to end against Consul agents whose API is HTTPS only with verify_incoming = true
// (certificates from `consul tls ca create` / `consul tls cert create`): the connection secrets carry
// the CA, the client certificate and its key, and nothing else reaches Consul.
const PREFIX = 'consul-peering';
let world: PipelineWorld;
let dc1: LocalConsulCluster, dc2: LocalConsulCluster;

const ref = (cluster: LocalConsulCluster): ClusterRef => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
const admin = (cluster: LocalConsulCluster): ConsulClient =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken, ...cluster.connectionTls });

beforeAll(async () => {
  world = await startPipelineWorld({
    clusters: 2,
    secretPrefix: PREFIX,
    queueNamePrefix: 'mtls',
    maxAttempts: 3,
    api: 'mtls',
  });
  [dc1, dc2] = world.clusters as [LocalConsulCluster, LocalConsulCluster];
  for (const cluster of world.clusters) {
    expect(cluster.address).toMatch(/^https:/);
    await world.pipeline.secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: cluster.managementToken, ...cluster.connectionTls }),
    );
  }
  world.pipeline.start();
}, 120_000);

afterAll(async () => {
  await world.stop();
});

test('cluster.registered x2 and peering.requested end ACTIVE over HTTPS with client certificates', async () => {
  const correlationId = 'mtls-chain';
  const hostPort = (relay: SniRoutingGateway) => ({ address: '127.0.0.1', port: relay.port });
  for (const [cluster, gateway] of [
    [dc1, world.gateways[0]],
    [dc2, world.gateways[1]],
  ] as const) {
    if (gateway === undefined) throw new Error('the world has a gateway per cluster');
    await world.pipeline.publish(
      createEvent(
        'cluster.registered',
        { cluster: ref(cluster), gateway: { lan: hostPort(gateway), wan: hostPort(gateway) } },
        { correlationId },
      ),
    );
  }
  await world.pipeline.publish(
    createEvent('peering.requested', { acceptor: ref(dc1), dialer: ref(dc2) }, { correlationId }),
  );
  const outcome = await world.pipeline.waitForOutcome(correlationId, 90_000);
  expect(outcome.type).toBe('peering.established');

  const [c1, c2] = [admin(dc1), admin(dc2)];
  expect((await c1.readPeering('dc2'))?.state).toBe('ACTIVE');
  expect((await c2.readPeering('dc1'))?.state).toBe('ACTIVE');
  await Promise.all([c1.close(), c2.close()]);
  expect(world.consulCalls.length).toBeGreaterThan(0);
  // Through both gateways: dc2's routed dc1's server name to dc1's, which routed it locally.
  for (const gateway of world.gateways) expect(gateway.routed('dc1').bytesIn).toBeGreaterThan(0);

  // The client key stays in the secret: no log line carries it, nor any line of it.
  const keyLines = (dc1.tls?.clientKey ?? '')
    .split('\n')
    .filter((line) => line.length > 20 && !line.startsWith('-----'));
  expect(keyLines.length).toBeGreaterThan(0);
  for (const line of world.logLines) for (const keyLine of keyLines) expect(line).not.toContain(keyLine);
});

// Last in the file: its onboarding (a second secret store) makes a gateway token of its own on dc1.
test('peerctl cluster add takes --client-cert-file/--client-key-file; without them the error says what to fix', async () => {
  const tls = dc1.tls;
  if (tls === undefined) throw new Error('the mtls world gives every cluster TLS material');
  const dir = await mkdtemp(join(tmpdir(), 'peerctl-mtls-'));
  try {
    const files = {
      ca: join(dir, 'ca.pem'),
      cert: join(dir, 'client.pem'),
      key: join(dir, 'client-key.pem'),
    };
    await writeFile(files.ca, tls.caCert);
    await writeFile(files.cert, tls.clientCert);
    await writeFile(files.key, tls.clientKey);
    const secretsFile = join(dir, 'secrets.json');
    const peerctl = async (...extra: string[]) => {
      const lines: string[] = [];
      const code = await main(
        ['cluster', 'add', 'dc1', '--address', dc1.address, '--ca-file', files.ca, ...extra],
        {
          stdout: (line) => lines.push(line),
          stderr: (line) => lines.push(line),
          env: { T: dc1.managementToken, GATEWAY_CHECK_INTERVAL: '1s', RETRY_CAP_SECONDS: '2' },
        },
      );
      return { code, output: lines.join('\n') };
    };
    const common = ['--token-env', 'T', '--secrets-file', secretsFile, '--timeout', '90'];

    const refused = await peerctl(...common);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toMatch(/cannot use cluster "dc1" at https:.*nothing was stored/);
    expect(refused.output).toMatch(/requires a client certificate.*clientCert and clientKey/);

    const added = await peerctl(...common, '--client-cert-file', files.cert, '--client-key-file', files.key);
    expect(added.output).toMatch(/reached dc1 at https:/);
    expect(added.code).toBe(0);
    const secret = await new FileSecretStore({ path: secretsFile }).get(clusterSecretName(PREFIX, 'dc1'));
    const stored: unknown = JSON.parse(secret?.value ?? '{}');
    expect(stored).toMatchObject({
      caCert: tls.caCert,
      clientCert: tls.clientCert,
      clientKey: tls.clientKey,
    });
    const keyLine = tls.clientKey.split('\n').find((line) => line.length > 20 && !line.startsWith('-----'));
    expect(keyLine).toBeDefined();
    expect(added.output).not.toContain(keyLine);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
