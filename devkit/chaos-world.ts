import { ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SecretsManagerSecretStore } from '#commons/aws/secrets-manager-secret-store';
import { ConsulClient } from '#commons/consul/client';
import { createEvent, type ClusterRef } from '#commons/events/index';
import { clusterSecretName, DEFAULT_SECRET_PREFIX } from '#commons/naming';
import { createLogger } from '#commons/observability/logger';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { meshGatewayPolicyName } from '#commons/workflows/gateway-policy';
import { LocalPipeline } from '../local/pipeline';
import { SniRoutingGateway } from './sni-routing-gateway';
import { HttpFaultLayer } from './http-fault-layer';
import { startConsulClusters, type LocalConsulCluster } from './local-consul-cluster';
import { startMoto, type MotoServer } from './moto';
import { pollUntil } from './poll';
import { SideEffects } from './side-effects';
import { ToxiproxyServer, type Proxy } from './toxiproxy';

export const PREFIX = DEFAULT_SECRET_PREFIX;
const QUEUE_PREFIX = 'chaos';
export const GATEWAY_SERVICE = 'mesh-gateway';

/** One Consul datacenter of the chaos world, with every path to it that a fault can be put on. */
export interface ChaosCluster {
  name: string;
  consul: LocalConsulCluster;
  /** toxiproxy in front of its HTTP API (TCP faults). */
  httpProxy: Proxy;
  /** The request-level layer the pipeline talks to, in front of `httpProxy` (crashes of callers, counters). */
  httpLayer: HttpFaultLayer;
  /** The stand-in mesh gateway and the toxiproxy in front of it. */
  relay: SniRoutingGateway;
  gatewayProxy: Proxy;
  /** Management client straight to the agent (no proxy): what the checks read. */
  admin: () => ConsulClient;
}

/**
 * Everything a chaos scenario runs on, all real except Envoy: two persistent Consul servers (dc1 accepts,
 * dc2 dials) that can be SIGKILLed and restarted with their state, moto's SQS and Secrets Manager, TCP
 * relays standing in for the mesh gateways, and a toxiproxy between the code under test and each of
 * them. The pipeline runs on moto through:
 *
 *   SDK ──► HttpFaultLayer (5xx, throttling, timeouts) ──► toxiproxy "moto" ──► moto
 *   ConsulClient ──► HttpFaultLayer (crashes) ──► toxiproxy "consul-dcN" ──► Consul dcN HTTP
 *   dc2 server ──► toxiproxy "gateway-dc2" ──► relay dc2 ──► toxiproxy "gateway-dc1" ──► relay dc1 ──► dc1 gRPC TLS
 *
 * dc1's gateway is registered with lan = its relay and wan = "gateway-dc1" (what the token carries);
 * dc2's with lan = wan = "gateway-dc2", so taking that proxy down also fails dc2's gateway check.
 */
export interface ChaosWorld {
  moto: MotoServer;
  toxiproxy: ToxiproxyServer;
  motoProxy: Proxy;
  awsLayer: HttpFaultLayer;
  dc1: ChaosCluster;
  dc2: ChaosCluster;
  pipeline: LocalPipeline;
  effects: SideEffects;
  /** Secrets Manager straight on moto (no fault layer): what the checks read. */
  secrets: SecretsManagerSecretStore;
  sm: SecretsManagerClient;
  sqs: SQSClient;
  /** AWS settings for a peerctl child process (`--aws`), through the fault layer. */
  peerctlEnv: NodeJS.ProcessEnv;
  ref(cluster: ChaosCluster): ClusterRef;
  stop(): Promise<void>;
}

export async function startChaosWorld(options: { consulBinary?: string } = {}): Promise<ChaosWorld> {
  const [moto, toxiproxy, consuls] = await Promise.all([
    startMoto(),
    ToxiproxyServer.start(),
    startConsulClusters(2, {
      mode: 'server',
      ...(options.consulBinary ? { binary: options.consulBinary } : {}),
    }),
  ]);
  const [c1, c2] = consuls as [LocalConsulCluster, LocalConsulCluster];
  const motoProxy = await toxiproxy.createProxy('moto', `127.0.0.1:${moto.port}`);
  const awsLayer = await HttpFaultLayer.listen({ host: '127.0.0.1', port: motoProxy.port });

  // SNI-routing gateway stand-ins; dc2's routes dc1's server name through dc1's gateway proxy.
  const relay1 = await SniRoutingGateway.listen(c1);
  const gatewayProxy1 = await toxiproxy.createProxy('gateway-dc1', relay1.address);
  const relay2 = await SniRoutingGateway.listen(c2);
  relay2.routeTo(relay1, gatewayProxy1.port);
  const gatewayProxy2 = await toxiproxy.createProxy('gateway-dc2', relay2.address);

  const cluster = async (consul: LocalConsulCluster, relay: SniRoutingGateway, gatewayProxy: Proxy) => {
    const httpProxy = await toxiproxy.createProxy(
      `consul-${consul.datacenter}`,
      `127.0.0.1:${consul.ports.http}`,
    );
    const httpLayer = await HttpFaultLayer.listen({ host: '127.0.0.1', port: httpProxy.port });
    return {
      name: consul.datacenter,
      consul,
      httpProxy,
      httpLayer,
      relay,
      gatewayProxy,
      admin: () => new ConsulClient({ address: consul.address, token: consul.managementToken }),
    } satisfies ChaosCluster;
  };
  const dc1 = await cluster(c1, relay1, gatewayProxy1);
  const dc2 = await cluster(c2, relay2, gatewayProxy2);

  const region = moto.clientConfig.region;
  const credentials = moto.clientConfig.credentials;
  const viaLayer = { endpoint: awsLayer.endpoint, region, credentials };
  const direct = { endpoint: moto.endpoint, region, credentials };
  const sm = new SecretsManagerClient(direct);
  const sqs = new SQSClient(direct);
  const secrets = new SecretsManagerSecretStore(sm);
  const effects = new SideEffects();
  const byAddress = new Map([
    [dc1.httpLayer.endpoint, dc1.name],
    [dc2.httpLayer.endpoint, dc2.name],
  ]);
  process.env.LOG_LEVEL ??= 'SILENT';
  const pipeline = await LocalPipeline.aws({
    // The SDK's own defaults (standard retry strategy, 3 attempts), as the deployed functions use.
    client: viaLayer,
    queueNamePrefix: QUEUE_PREFIX,
    visibilityTimeoutSeconds: 2,
    settings: {
      ...DEFAULT_SETTINGS,
      secretPrefix: PREFIX,
      gatewayCheckInterval: '1s',
      retryCapSeconds: 2,
      maxAttempts: 20,
    },
    logger: createLogger('chaos'),
    wrapConsul: (address, api) => effects.wrapConsul(byAddress.get(address) ?? address, api),
    wrapSecrets: (store) => effects.wrapSecrets(store),
    wrapEvents: (publisher) => effects.wrapEvents(publisher),
  });
  for (const c of [dc1, dc2]) {
    await secrets.put(
      clusterSecretName(PREFIX, c.name),
      JSON.stringify({ address: c.httpLayer.endpoint, token: c.consul.managementToken }),
    );
  }
  pipeline.start();

  return {
    moto,
    toxiproxy,
    motoProxy,
    awsLayer,
    dc1,
    dc2,
    pipeline,
    effects,
    secrets,
    sm,
    sqs,
    peerctlEnv: {
      AWS_ENDPOINT_URL: awsLayer.endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      SECRET_PREFIX: PREFIX,
    },
    ref: (c) => ({ name: c.name, connectionSecret: clusterSecretName(PREFIX, c.name) }),
    async stop() {
      await pipeline.stop();
      for (const c of [dc1, dc2]) await Promise.all([c.relay.close(), c.httpLayer.close()]);
      await awsLayer.close();
      sm.destroy();
      sqs.destroy();
      await Promise.all([...consuls.map((c) => c.stop()), toxiproxy.stop(), moto.stop()]);
    },
  };
}

/** The registration each cluster.registered event asks for (see the path picture above). */
export function gatewayOf(world: ChaosWorld, cluster: ChaosCluster) {
  const hostPort = (port: number) => ({ address: '127.0.0.1', port });
  return cluster === world.dc1
    ? { lan: hostPort(world.dc1.relay.port), wan: hostPort(world.dc1.gatewayProxy.port) }
    : { lan: hostPort(world.dc2.gatewayProxy.port), wan: hostPort(world.dc2.gatewayProxy.port) };
}

export async function publishRegistrations(world: ChaosWorld, correlationId: string): Promise<void> {
  for (const c of [world.dc1, world.dc2]) {
    await world.pipeline.publish(
      createEvent(
        'cluster.registered',
        { cluster: world.ref(c), gateway: gatewayOf(world, c) },
        { correlationId },
      ),
    );
  }
}

export async function publishPeeringRequest(world: ChaosWorld, correlationId: string): Promise<void> {
  await world.pipeline.publish(
    createEvent(
      'peering.requested',
      { acceptor: world.ref(world.dc1), dialer: world.ref(world.dc2) },
      { correlationId },
    ),
  );
}

/**
 * Back to a blank world between scenarios: no fault left, every queue drained, no peering, and (unless
 * `keepOnboarding`) no gateway policy, token, registration, mesh entry or secret of ours left.
 */
export async function resetWorld(world: ChaosWorld, { keepOnboarding = false } = {}): Promise<void> {
  world.effects.reset();
  world.awsLayer.clear();
  for (const c of [world.dc1, world.dc2]) {
    c.httpLayer.clear();
    if (!c.consul.running) await c.consul.restart();
  }
  await world.toxiproxy.reset();
  await waitForQuietQueues(world);
  await deletePeeringsEverywhere(world);
  for (const c of [world.dc1, world.dc2]) {
    if (!keepOnboarding) await unOnboard(c);
  }
  const ours = await world.secrets.list({ namePrefix: `${PREFIX}/` });
  for (const secret of ours) {
    if (secret.name.startsWith(`${PREFIX}/clusters/`)) continue;
    if (keepOnboarding && secret.name.startsWith(`${PREFIX}/gateway-tokens/`)) continue;
    await world.secrets.delete(secret.name, { forceWithoutRecovery: true });
  }
  world.effects.reset();
}

/** Both sides' peering records gone (Consul keeps a TERMINATED one until it is deleted too). */
export async function deletePeeringsEverywhere(world: ChaosWorld): Promise<void> {
  const sides: [ChaosCluster, string][] = [
    [world.dc1, world.dc2.name],
    [world.dc2, world.dc1.name],
  ];
  const clients = sides.map(([c]) => c.admin());
  try {
    await pollUntil(
      'both peering records to be deleted',
      async () => {
        let gone = 0;
        for (const [i, [, peer]] of sides.entries()) {
          const client = clients[i] as ConsulClient;
          const peering = await client.readPeering(peer);
          if (peering === undefined) gone += 1;
          else if (peering.state !== 'DELETING') await client.deletePeering(peer);
        }
        return gone === sides.length ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

async function unOnboard(cluster: ChaosCluster): Promise<void> {
  const client = cluster.admin();
  try {
    const policy = await client.readPolicyByName(meshGatewayPolicyName(GATEWAY_SERVICE));
    if (policy !== undefined) {
      for (const token of await client.listTokensByPolicy(policy.id))
        await client.deleteToken(token.accessorId);
      await managementCall(cluster, 'DELETE', `/v1/acl/policy/${policy.id}`);
    }
    await client.deregisterAgentService(GATEWAY_SERVICE);
    if ((await client.readConfigEntryRaw('mesh', 'mesh')) !== undefined)
      await client.deleteConfigEntry('mesh', 'mesh');
  } finally {
    await client.close();
  }
}

/** A raw management call for what the typed client has no method for (deleting a policy). */
export async function managementCall(cluster: ChaosCluster, method: string, path: string): Promise<unknown> {
  const response = await fetch(`${cluster.consul.address}${path}`, {
    method,
    headers: { 'X-Consul-Token': cluster.consul.managementToken },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} on ${cluster.name}: HTTP ${response.status}: ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

const STAGES = ['onboard', 'accept', 'dial', 'outcomes', 'dead-letters'] as const;

/** No message visible, in flight or delayed on any queue: the previous scenario's work is all done. */
export async function waitForQuietQueues(world: ChaosWorld, timeoutMs = 90_000): Promise<void> {
  const urls = await Promise.all(
    STAGES.map(async (stage) => {
      const found = await world.sqs.send(new GetQueueUrlCommand({ QueueName: `${QUEUE_PREFIX}-${stage}` }));
      return found.QueueUrl ?? '';
    }),
  );
  // Twice in a row: a message can be between a receive and its delete, or a handler about to publish.
  let quietReads = 0;
  await pollUntil(
    'every queue to be empty',
    async () => {
      let total = 0;
      for (const url of urls) {
        const { Attributes = {} } = await world.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        );
        total += Object.values(Attributes).reduce((sum, v) => sum + Number(v), 0);
      }
      quietReads = total === 0 ? quietReads + 1 : 0;
      return quietReads >= 3 ? true : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Every version of every secret of ours (deprecated ones included): what "secret versions added" counts. */
export async function secretVersionCount(world: ChaosWorld): Promise<number> {
  let total = 0;
  for (const secret of await world.secrets.list({ namePrefix: `${PREFIX}/` })) {
    if (secret.name.startsWith(`${PREFIX}/clusters/`)) continue;
    const listed = await world.sm.send(
      new ListSecretVersionIdsCommand({ SecretId: secret.name, IncludeDeprecated: true }),
    );
    total += (listed.Versions ?? []).length;
  }
  return total;
}
