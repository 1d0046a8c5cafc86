import { ConsulClient } from '#commons/consul/client';
import { createEvent } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import type { LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startPipelineWorld, type PipelineWorld } from '../support/pipeline-world';
import type { SniRoutingGateway } from '#devkit/sni-routing-gateway';

// A full mesh of four Consul datacenters (ACLs on) peered through the pipeline on moto's SQS and
// Secrets Manager: six peerings, the lower-numbered cluster accepting, so dc2 and dc3 both accept and
// dial. Each cluster has one SNI-routing gateway stand-in, which must send every connection to the
// gateway of the datacenter its TLS server name names, as Envoy's mesh gateways do.
const PREFIX = 'mesh-it';

let world: PipelineWorld;
let clusters: LocalConsulCluster[];
let gateways: SniRoutingGateway[];

const ref = (cluster: LocalConsulCluster) => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
interface Pair {
  acceptor: LocalConsulCluster;
  dialer: LocalConsulCluster;
  /** The request's correlation id. */
  id: string;
}
/** Every pair once, the lower-numbered cluster accepting. */
const pairs = (): Pair[] =>
  clusters.flatMap((acceptor, i) =>
    clusters
      .slice(i + 1)
      .map((dialer) => ({ acceptor, dialer, id: `mesh-${acceptor.datacenter}-${dialer.datacenter}` })),
  );
const gatewayOf = (cluster: LocalConsulCluster): SniRoutingGateway => {
  const gateway = gateways.find((g) => g.datacenter === cluster.datacenter);
  if (gateway === undefined) throw new Error(`no gateway for ${cluster.datacenter}`);
  return gateway;
};

beforeAll(async () => {
  world = await startPipelineWorld({
    clusters: 4,
    secretPrefix: PREFIX,
    queueNamePrefix: 'mesh',
    maxAttempts: 30,
    // Hand the wait for ACTIVE back to the queue quickly, so one pair never holds up the others.
    settings: { activationPollMs: 1_000 },
  });
  ({ clusters, gateways } = world);
  for (const cluster of clusters) {
    await world.pipeline.secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: cluster.managementToken }),
    );
  }
  world.pipeline.start();
}, 120_000);

afterAll(async () => {
  await world.stop();
});

test('4 clusters, 6 peerings requested at once: all ACTIVE on both sides, each through both of its gateways', async () => {
  const { pipeline } = world;
  // Everything at once, as a fleet file would: the registrations and every peering request.
  await Promise.all([
    ...clusters.map((cluster) => {
      const hostPort = { address: '127.0.0.1', port: gatewayOf(cluster).port };
      return pipeline.publish(
        createEvent(
          'cluster.registered',
          { cluster: ref(cluster), gateway: { lan: hostPort, wan: hostPort } },
          { correlationId: `onboard-${cluster.datacenter}` },
        ),
      );
    }),
    ...pairs().map(({ acceptor, dialer, id }) =>
      pipeline.publish(
        createEvent(
          'peering.requested',
          { acceptor: ref(acceptor), dialer: ref(dialer) },
          { correlationId: id },
        ),
      ),
    ),
  ]);
  const outcomes = await Promise.all(pairs().map(({ id }) => pipeline.waitForOutcome(id, 150_000)));
  expect(outcomes.map((o) => [o.correlationId, o.type])).toEqual(
    pairs().map(({ id }) => [id, 'peering.established']),
  );
  expect(pipeline.deadLettered()).toEqual([]);

  const admins = new Map(
    clusters.map((c) => [c.datacenter, new ConsulClient({ address: c.address, token: c.managementToken })]),
  );
  const label = ({ acceptor, dialer }: Pair) => `${acceptor.datacenter} <- ${dialer.datacenter}`;
  try {
    const states = await Promise.all(
      pairs().map(async (pair) => {
        const [onAcceptor, onDialer] = await Promise.all([
          admins.get(pair.acceptor.datacenter)?.readPeering(pair.dialer.datacenter),
          admins.get(pair.dialer.datacenter)?.readPeering(pair.acceptor.datacenter),
        ]);
        return `${label(pair)}: ${onAcceptor?.state ?? 'absent'} / ${onDialer?.state ?? 'absent'}`;
      }),
    );
    expect(states).toEqual(pairs().map((pair) => `${label(pair)}: ACTIVE / ACTIVE`));
  } finally {
    await Promise.all([...admins.values()].map((a) => a.close()));
  }

  // Each peering went through both of its gateways: the dialer's routed the acceptor's server name to
  // the acceptor's gateway (both directions carried bytes), which routed it to its own server.
  const proof = pairs().map((pair) => {
    const { acceptor, dialer } = pair;
    const viaDialer = gatewayOf(dialer).routed(acceptor.datacenter);
    const atAcceptor = gatewayOf(acceptor).routed(acceptor.datacenter);
    const remote = viaDialer.connections > 0 && viaDialer.bytesIn > 0 && viaDialer.bytesOut > 0;
    return `${label(pair)}: dialer's gateway ${remote ? 'routed' : 'DID NOT route'} to ${acceptor.datacenter}, acceptor's gateway ${atAcceptor.bytesIn > 0 ? 'routed' : 'DID NOT route'} locally`;
  });
  expect(proof).toEqual(
    pairs().map(
      (pair) =>
        `${label(pair)}: dialer's gateway routed to ${pair.acceptor.datacenter}, acceptor's gateway routed locally`,
    ),
  );
  // And nothing else: a gateway routed only to its own datacenter (as an acceptor) and to those its
  // cluster dials, and every connection an acceptor's gateway served locally came through a dialer's
  // gateway (a dialer bypassing its own gateway would add connections there that no dialer's counted).
  const routedTo = gateways.map((g) => [g.datacenter, [...g.counters.routes.keys()].sort()]);
  expect(routedTo).toEqual([
    ['dc1', ['dc1']],
    ['dc2', ['dc1', 'dc2']],
    ['dc3', ['dc1', 'dc2', 'dc3']],
    ['dc4', ['dc1', 'dc2', 'dc3']],
  ]);
  for (const acceptor of clusters) {
    const local = gatewayOf(acceptor).routed(acceptor.datacenter).connections;
    const viaDialers = gateways
      .filter((g) => g.datacenter !== acceptor.datacenter)
      .reduce((sum, g) => sum + g.routed(acceptor.datacenter).connections, 0);
    expect([acceptor.datacenter, local <= viaDialers]).toEqual([acceptor.datacenter, true]);
  }
  expect(gateways.map((g) => [g.datacenter, g.counters.unrouted, g.unroutedReasons])).toEqual(
    clusters.map((c) => [c.datacenter, 0, []]),
  );
});
