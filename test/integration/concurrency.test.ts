import { ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { main as peerctl } from '../../cli/peerctl';
import { ConsulClient } from '#commons/consul/client';
import { createEvent, type PipelineEvent } from '#commons/events/index';
import { clusterSecretName, peeringTokenSecretName } from '#commons/naming';
import { pairLockOf } from '#commons/workflows/pair-lock';
import type { LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startPipelineWorld, type PipelineWorld } from '../support/pipeline-world';
import { pollUntil } from '#devkit/poll';
import type { SniRoutingGateway } from '#devkit/sni-routing-gateway';

// Requests racing on one pair, on real parts: three Consul datacenters (ACLs on), moto's SQS and
// Secrets Manager, SNI-routing gateway stand-ins, and THREE consumers per queue, as side-by-side
// Lambda instances. Every scenario must end in one converged state, each request ended as
// `established` or as a clear, intended refusal.
const PREFIX = 'race-it';
const CONSUMERS = 3;

let world: PipelineWorld;
let dc1: LocalConsulCluster, dc2: LocalConsulCluster, dc3: LocalConsulCluster;
let secretsClient: SecretsManagerClient;

const ref = (cluster: LocalConsulCluster) => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(PREFIX, cluster.datacenter),
});
const admin = (cluster: LocalConsulCluster) =>
  new ConsulClient({ address: cluster.address, token: cluster.managementToken });
const gatewayOf = (cluster: LocalConsulCluster): SniRoutingGateway => {
  const gateway = world.gateways.find((g) => g.datacenter === cluster.datacenter);
  if (gateway === undefined) throw new Error(`no gateway for ${cluster.datacenter}`);
  return gateway;
};
const registered = (cluster: LocalConsulCluster) => {
  const hostPort = { address: '127.0.0.1', port: gatewayOf(cluster).port };
  return createEvent(
    'cluster.registered',
    { cluster: ref(cluster), gateway: { lan: hostPort, wan: hostPort } },
    { correlationId: `onboard-${cluster.datacenter}` },
  );
};
const requested = (
  acceptor: LocalConsulCluster,
  dialer: LocalConsulCluster,
  correlationId: string,
  extra: { regenerateToken?: boolean } = {},
) =>
  createEvent(
    'peering.requested',
    { acceptor: ref(acceptor), dialer: ref(dialer), ...extra },
    { correlationId },
  );

/** How a request ended: its outcome event, else its dead letter (a refusal of the accept step). */
type Ending = { kind: 'established' } | { kind: 'refused'; reason: string; message: string };

/** Every ending a request has had so far, oldest first: SQS redelivers, so one request can end twice. */
function endingsOf(correlationId: string): Ending[] {
  const outcomes = world.pipeline
    .outcomes()
    .filter((o) => o.correlationId === correlationId)
    .map((outcome): Ending =>
      outcome.type === 'peering.established'
        ? { kind: 'established' }
        : { kind: 'refused', reason: outcome.data.reason, message: outcome.data.message },
    );
  const letters = world.pipeline
    .deadLettered()
    .filter((d) => d.correlationId === correlationId)
    .map((letter): Ending => ({ kind: 'refused', reason: letter.reason, message: letter.error }));
  return [...outcomes, ...letters];
}

/** How a request first ended. */
async function ending(correlationId: string, timeoutMs = 90_000): Promise<Ending> {
  return pollUntil<Ending>(
    `the end of request ${correlationId}`,
    () => Promise.resolve(endingsOf(correlationId)[0]),
    { timeoutMs, intervalMs: 100 },
  );
}

async function tokenVersions(acceptor: string, dialer: string): Promise<number> {
  const listed = await secretsClient.send(
    new ListSecretVersionIdsCommand({
      SecretId: peeringTokenSecretName(PREFIX, acceptor, dialer),
      IncludeDeprecated: true,
    }),
  );
  return (listed.Versions ?? []).length;
}

async function states(acceptor: LocalConsulCluster, dialer: LocalConsulCluster): Promise<string> {
  const [a, d] = [admin(acceptor), admin(dialer)];
  try {
    const [onAcceptor, onDialer] = await Promise.all([
      a.readPeering(dialer.datacenter),
      d.readPeering(acceptor.datacenter),
    ]);
    return `${onAcceptor?.state ?? 'absent'} / ${onDialer?.state ?? 'absent'}`;
  } finally {
    await Promise.all([a.close(), d.close()]);
  }
}

/** Requests that the dial step turned into regenerations: a rejected token (what the lock prevents). */
const dialRegenerations = (published: PipelineEvent[]) =>
  published.filter((e) => e.type === 'peering.requested' && (e.data.regenerations ?? 0) > 0);

beforeAll(async () => {
  world = await startPipelineWorld({
    clusters: 3,
    secretPrefix: PREFIX,
    queueNamePrefix: 'race',
    maxAttempts: 30,
    consumers: CONSUMERS,
    // A short in-process wait and budget, so the never-ready scenario ends within the test.
    settings: { readinessWaitMs: 3_000, retryBudgetSeconds: 25 },
  });
  [dc1, dc2, dc3] = world.clusters as [LocalConsulCluster, LocalConsulCluster, LocalConsulCluster];
  secretsClient = new SecretsManagerClient(world.moto.clientConfig);
  for (const cluster of world.clusters) {
    await world.pipeline.secrets.put(
      clusterSecretName(PREFIX, cluster.datacenter),
      JSON.stringify({ address: cluster.address, token: cluster.managementToken }),
    );
  }
  world.pipeline.start();
}, 120_000);

afterAll(async () => {
  secretsClient.destroy();
  await world.stop();
});

test('fresh clusters, both directions requested at the instant they are registered, while an operator edits the mesh entry: one direction wins, the mirror is refused by name', async () => {
  // The operator's own fields, written in a CAS loop while onboarding merges the flag in.
  const operator = admin(dc1);
  const operatorEdit = (async () => {
    for (let done = false; !done;) {
      const current = await operator.readConfigEntryRaw('mesh', 'mesh');
      const entry = current?.entry ?? { Kind: 'mesh' };
      const meta = (entry.Meta ?? {}) as Record<string, string>;
      done = await operator.writeConfigEntry(
        {
          ...entry,
          Kind: 'mesh',
          TransparentProxy: { MeshDestinationsOnly: true },
          Meta: { ...meta, team: 'platform' },
        },
        { cas: current?.modifyIndex ?? 0 },
      );
    }
  })();
  await Promise.all([
    world.pipeline.publish(registered(dc1)),
    world.pipeline.publish(registered(dc2)),
    world.pipeline.publish(requested(dc1, dc2, 'dc1-accepts')),
    world.pipeline.publish(requested(dc2, dc1, 'dc2-accepts')),
    operatorEdit,
  ]);
  const [first, second] = await Promise.all([ending('dc1-accepts'), ending('dc2-accepts')]);
  const endings = { 'dc1-accepts': first, 'dc2-accepts': second };
  const winners = Object.entries(endings).filter(([, e]) => e.kind === 'established');
  expect(winners).toHaveLength(1);
  const [winner] = winners[0] ?? [];
  const loser = winner === 'dc1-accepts' ? second : first;
  expect(loser).toMatchObject({ kind: 'refused', reason: 'name-conflict' });
  expect(loser.kind === 'refused' && loser.message).toMatch(/the direction (dc1→dc2|dc2→dc1) exists/);

  const [acceptor, dialer] = winner === 'dc1-accepts' ? [dc1, dc2] : [dc2, dc1];
  expect(await states(acceptor, dialer)).toBe('ACTIVE / ACTIVE');
  expect(gatewayOf(dialer).routed(acceptor.datacenter).bytesIn).toBeGreaterThan(0);
  expect(gatewayOf(acceptor).routed(acceptor.datacenter).bytesIn).toBeGreaterThan(0);
  // The loser left nothing behind: no peering of its direction on either side.
  const [a, d] = [admin(acceptor), admin(dialer)];
  expect((await a.listPeerings()).map((p) => p.name)).toEqual([dialer.datacenter]);
  expect((await d.listPeerings()).map((p) => p.name)).toEqual([acceptor.datacenter]);
  await Promise.all([a.close(), d.close()]);

  const mesh = await operator.readConfigEntryRaw('mesh', 'mesh');
  expect(mesh?.entry).toMatchObject({
    TransparentProxy: { MeshDestinationsOnly: true },
    Meta: { team: 'platform' },
    Peering: { PeerThroughMeshGateways: true },
  });
  await operator.close();
}, 150_000);

/** The pair the first scenario peered, whichever direction won. */
async function peeredPair(): Promise<[LocalConsulCluster, LocalConsulCluster]> {
  const c1 = admin(dc1);
  const onDc1 = await c1.readPeering('dc2');
  await c1.close();
  return onDc1 !== undefined && onDc1.peerServerAddresses.length === 0 ? [dc1, dc2] : [dc2, dc1];
}

test('one regeneration request delivered to three consumers at once regenerates once', async () => {
  const [acceptor, dialer] = await peeredPair();
  const before = await tokenVersions(acceptor.datacenter, dialer.datacenter);
  const event = requested(acceptor, dialer, 'duplicated-regeneration', { regenerateToken: true });
  await Promise.all(Array.from({ length: 3 }, () => world.pipeline.publish(event)));
  expect(await ending(event.correlationId)).toEqual({ kind: 'established' });
  // Every delivery ends, each the same way.
  await pollUntil('three outcomes', () => {
    const mine = world.pipeline.outcomes().filter((o) => o.correlationId === event.correlationId);
    return Promise.resolve(mine.length >= 3 ? mine : undefined);
  });
  const outcomes = world.pipeline.outcomes().filter((o) => o.correlationId === event.correlationId);
  expect(outcomes.map((o) => o.type)).toEqual(Array(outcomes.length).fill('peering.established'));
  expect(await tokenVersions(acceptor.datacenter, dialer.datacenter)).toBe(before + 1);
  expect(await states(acceptor, dialer)).toBe('ACTIVE / ACTIVE');
}, 120_000);

test('three regenerations at once: all established, coalesced into one new token, no token rejected', async () => {
  const [acceptor, dialer] = await peeredPair();
  const before = await tokenVersions(acceptor.datacenter, dialer.datacenter);
  const publishedBefore = world.published.length;
  const ids = ['regen-1', 'regen-2', 'regen-3'];
  await Promise.all(
    ids.map((id) => world.pipeline.publish(requested(acceptor, dialer, id, { regenerateToken: true }))),
  );
  const endings = await Promise.all(ids.map((id) => ending(id)));
  expect(endings).toEqual(ids.map(() => ({ kind: 'established' })));
  // Each asked for a token newer than itself: the first generation is that for all three.
  expect(await tokenVersions(acceptor.datacenter, dialer.datacenter)).toBe(before + 1);
  expect(dialRegenerations(world.published.slice(publishedBefore))).toEqual([]);
  expect(await states(acceptor, dialer)).toBe('ACTIVE / ACTIVE');
}, 120_000);

test('a lock left by a holder that died is taken over once its lease expires, and the request proceeds', async () => {
  const [acceptor, dialer] = await peeredPair();
  const lock = pairLockOf(acceptor.datacenter, dialer.datacenter);
  const host = admin(lock.host === dc1.datacenter ? dc1 : dc2);
  // What a crashed holder leaves: a lease nobody renews, 3 s from expiry. Written once the pair is
  // free (stragglers of the previous scenario, redeliveries that find nothing to do, may hold it briefly).
  let expiresAt = 0;
  await pollUntil('the pair lock free, to plant a dead lease', async () => {
    expiresAt = Date.now() + 3_000;
    const lease = { holder: 'crashed', purpose: 'dial (crashed)', expiresAt };
    return (await host.writeKeyCas(lock.key, lease, 0)) ? true : undefined;
  });
  const before = await tokenVersions(acceptor.datacenter, dialer.datacenter);
  const event = requested(acceptor, dialer, 'after-crash', { regenerateToken: true });
  await world.pipeline.publish(event);
  expect(await ending(event.correlationId)).toEqual({ kind: 'established' });
  expect(world.logLines.some((line) => line.includes('took over an expired pair lock'))).toBe(true);
  // Released by the run that took it over (and by any redelivery of the request, which the world's
  // 2 s visibility timeout makes likely while the first delivery waits for the dead lease).
  await pollUntil('the lock released', async () =>
    (await host.readKey(lock.key)) === undefined ? true : undefined,
  );
  expect(await tokenVersions(acceptor.datacenter, dialer.datacenter)).toBe(before + 1);
  await host.close();
}, 120_000);

test('unpeer racing a peer request: one of two converged end states, decided by which took the pair lock last', async () => {
  const [acceptor, dialer] = await peeredPair();
  const sqs = new SQSClient(world.moto.clientConfig);
  const url = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  const env = {
    AWS_ENDPOINT_URL: world.moto.endpoint,
    AWS_REGION: world.moto.clientConfig.region,
    ONBOARD_QUEUE_URL: await url('race-onboard'),
    ACCEPT_QUEUE_URL: await url('race-accept'),
    SECRET_PREFIX: PREFIX,
  };
  sqs.destroy();
  // Credentials come from the SDK's usual chain, as for a person running peerctl.
  process.env.AWS_ACCESS_KEY_ID = world.moto.clientConfig.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = world.moto.clientConfig.credentials.secretAccessKey;
  const printed: string[] = [];
  const unpeer = peerctl(['unpeer', acceptor.datacenter, dialer.datacenter, '--aws'], {
    stdout: (line) => printed.push(line),
    stderr: (line) => printed.push(line),
    env,
  });
  const request = requested(acceptor, dialer, 'peer-vs-unpeer');
  const [code] = await Promise.all([unpeer, world.pipeline.publish(request)]).finally(() => {
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  });
  expect(`exit ${code}: ${printed.join('\n')}`).toMatch(/^exit 0: /);
  const end = await ending(request.correlationId);
  // Let stragglers (redeliveries) finish, then read the converged state.
  await pollUntil('the pair lock released', async () => {
    const host = admin(
      pairLockOf(acceptor.datacenter, dialer.datacenter).host === dc1.datacenter ? dc1 : dc2,
    );
    try {
      return (await host.readKey(pairLockOf(acceptor.datacenter, dialer.datacenter).key)) === undefined
        ? true
        : undefined;
    } finally {
      await host.close();
    }
  });
  const state = await pollUntil('a converged end state', async () => {
    const sides = await states(acceptor, dialer);
    return sides === 'ACTIVE / ACTIVE' || sides === 'absent / absent' ? sides : undefined;
  });
  const token = await world.pipeline.secrets.get(
    peeringTokenSecretName(PREFIX, acceptor.datacenter, dialer.datacenter),
  );
  if (state === 'ACTIVE / ACTIVE') {
    // The request's accept ran after the unpeer: peered again, with its token. Its first ending may
    // be a refusal (a dial that ran between the unpeer and a redelivered accept, which then made a
    // new token); its latest ending is the establishment.
    if (end.kind === 'refused') expect(end.reason).toBe('token-missing');
    await pollUntil('the request ending in its establishment', () =>
      Promise.resolve(endingsOf(request.correlationId).at(-1)?.kind === 'established' ? true : undefined),
    );
    expect(token).toBeDefined();
  } else {
    // The unpeer ran last (after the request's accept, or after the whole request): nothing is left,
    // and a dial that came after it refused for lack of the token it was told to use.
    expect(token).toBeUndefined();
    if (end.kind === 'refused') expect(end.reason).toBe('token-missing');
  }
}, 120_000);

test('a request whose acceptor never becomes ready is dead-lettered within the retry budget, naming the cluster and what is missing', async () => {
  // dc3 is never onboarded: no mesh flag, no gateway.
  const event = requested(dc3, dc1, 'never-ready');
  await world.pipeline.publish(event);
  const end = await ending(event.correlationId, 90_000);
  expect(end).toMatchObject({ kind: 'refused', reason: 'not-ready' });
  expect(end.kind === 'refused' && end.message).toMatch(
    /^cluster "dc3" does not route peering through mesh gateways yet .*\(gave up after \d+ deliveries over \d+ s; the retry budget is 25 s\)$/,
  );
}, 120_000);
