/**
 * `npm run demo`: the whole pipeline on this machine, no configuration and no AWS account.
 * Starts two real Consul datacenters (ACLs on) with stand-in mesh gateways (TCP relays that route by
 * the TLS SNI, as Envoy does: production gateways are Envoy), registers both clusters, requests a
 * peering, and exits 0 once both sides are ACTIVE, with a summary of each side's state and the bytes
 * that went through each gateway, by route.
 *   --verbose   also print the handlers' structured logs (JSON)
 *   --aws       use real SQS and Secrets Manager (AWS_ENDPOINT_URL=http://127.0.0.1:PORT for moto)
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsulClient } from '#commons/consul/client';
import { createEvent, type PipelineEvent } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import { createLogger } from '#commons/observability/logger';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { LocalPipeline } from './pipeline';
import { describeEvent } from './progress';
import { resolveConsulBinary } from '#devkit/consul-binary';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';

const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  console.log(`usage: npm run demo [-- --verbose] [-- --aws]

Peers two local Consul datacenters through (stand-in) mesh gateways using the same handlers that run
in Lambda, and prints both sides' state and the traffic each gateway carried. Needs no configuration;
the first run builds Consul from the Go module proxy (a few minutes, cached afterwards).
  --verbose  print the handlers' structured JSON logs too
  --aws      run on real SQS and Secrets Manager (set AWS_ENDPOINT_URL to use moto)`);
  process.exit(0);
}
process.env.LOG_LEVEL ??= args.has('--verbose') ? 'INFO' : 'ERROR';
const started = Date.now();
const step = (text: string): void => {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
};

async function main(): Promise<number> {
  step('locating Consul (npm run consul:path; the first run builds it)');
  const binary = resolveConsulBinary();
  step(`starting datacenters dc1 and dc2 with ACLs on (${binary})`);
  const clusters = await startConsulClusters(2, { binary });
  const [dc1, dc2] = clusters as [LocalConsulCluster, LocalConsulCluster];
  // Each gateway routes its own datacenter's server name locally and the other's to the other gateway.
  const gateways = await startMeshGateways(clusters);
  const [gateway1, gateway2] = gateways as [SniRoutingGateway, SniRoutingGateway];
  const secretsDir = await mkdtemp(join(tmpdir(), 'peering-demo-secrets-'));
  const secretPrefix = 'consul-peering';
  const pipelineOptions = {
    settings: { ...DEFAULT_SETTINGS, secretPrefix, gatewayCheckInterval: '1s', retryCapSeconds: 2 },
    logger: createLogger('local-demo'),
    onEvent: (event: PipelineEvent) => {
      step(describeEvent(event));
    },
  };
  const pipeline = args.has('--aws')
    ? await LocalPipeline.aws({
        ...pipelineOptions,
        queueNamePrefix: `peering-demo-${Date.now()}`,
        visibilityTimeoutSeconds: 5,
      })
    : LocalPipeline.inProcess({ ...pipelineOptions, secretsFile: join(secretsDir, 'secrets.json') });
  step(
    args.has('--aws')
      ? 'pipeline on SQS + Secrets Manager'
      : `pipeline on in-process queues, secrets in ${secretsDir} (0600)`,
  );
  try {
    pipeline.start();
    const correlationId = randomUUID();
    const refs = [];
    for (const [cluster, gateway] of [
      [dc1, gateway1],
      [dc2, gateway2],
    ] as const) {
      const ref = {
        name: cluster.datacenter,
        connectionSecret: clusterSecretName(secretPrefix, cluster.datacenter),
      };
      await pipeline.secrets.put(
        ref.connectionSecret,
        JSON.stringify({ address: cluster.address, token: cluster.managementToken }),
      );
      const hostPort = { address: '127.0.0.1', port: gateway.port };
      await pipeline.publish(
        createEvent(
          'cluster.registered',
          { cluster: ref, gateway: { lan: hostPort, wan: hostPort } },
          { correlationId },
        ),
      );
      refs.push(ref);
    }
    const [acceptor, dialer] = refs as [(typeof refs)[0], (typeof refs)[0]];
    await pipeline.publish(createEvent('peering.requested', { acceptor, dialer }, { correlationId }));
    const outcome = await pipeline.waitForOutcome(correlationId, 180_000);

    const side = async (cluster: LocalConsulCluster, peer: string) => {
      const client = new ConsulClient({ address: cluster.address, token: cluster.managementToken });
      try {
        return await client.readPeering(peer);
      } finally {
        await client.close();
      }
    };
    const [onDc1, onDc2] = [await side(dc1, 'dc2'), await side(dc2, 'dc1')];
    console.log('\nsummary');
    console.log(
      `  outcome           ${outcome.type}${outcome.type === 'peering.failed' ? ` (${outcome.data.reason})` : ''}`,
    );
    console.log(`  dc1 (acceptor)    peering "dc2" ${onDc1?.state ?? 'absent'}  id ${onDc1?.id ?? '-'}`);
    console.log(`  dc2 (dialer)      peering "dc1" ${onDc2?.state ?? 'absent'}  id ${onDc2?.id ?? '-'}`);
    for (const gateway of gateways) {
      const routes = [...gateway.counters.routes].map(
        ([dc, c]) =>
          `${dc === gateway.datacenter ? `local ${dc}` : `to ${dc}`}: ${c.connections} connections, ` +
          `${c.bytesIn} bytes in, ${c.bytesOut} bytes out`,
      );
      console.log(
        `  ${gateway.datacenter} gateway       ${[...routes, `${gateway.counters.unrouted} unrouted`].join('; ')} (${gateway.address})`,
      );
    }
    console.log(`  dead letters      ${pipeline.deadLettered().length}`);
    console.log(`  total time        ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // dc2's gateway routed dc1's server name to dc1's gateway, which routed it to its own server.
    const through = gateway2.routed('dc1').bytesIn > 0 && gateway1.routed('dc1').bytesIn > 0;
    const active = onDc1?.state === 'ACTIVE' && onDc2?.state === 'ACTIVE';
    if (active && through)
      console.log('\nboth sides ACTIVE, and the peering traffic went through both mesh gateways');
    return active && through ? 0 : 1;
  } finally {
    await pipeline.stop();
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all(clusters.map((c) => c.stop()));
    await rm(secretsDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
