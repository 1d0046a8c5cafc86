/**
 * `npx tsx scripts/bench-cold.ts [--json] [--runs N]` (part of `npm run bench`): the cold path, from
 * just-started clusters to ACTIVE, with the deployed stack's own queue settings.
 *
 *   p1_cold         fresh pair: `cluster.registered` for both and `peering.requested` published at the
 *                   same instant → its `peering.established` (both sides ACTIVE). In-process pipeline,
 *                   DEFAULT_SETTINGS (10 s gateway checks, as `consul connect envoy` registers them),
 *                   the deployed visibility timeout (6 x the accept function's timeout), maxReceiveCount,
 *                   and each step's batch size and maximum concurrency (Lambda's event source mapping).
 *   p1_cold_floor   the same work by direct Consul calls from the same instant: register both gateways
 *                   and write both mesh entries, wait for both gateways to pass, token, establish, ACTIVE.
 *   p5_mesh         5 fresh clusters, all registrations and the 10 requests of a full mesh at once.
 *   p5_mesh_floor   the same by direct calls with the same parallelism (every cluster at once, then every
 *                   pair at once).
 * A gateway's first TCP check runs after a random stagger within its interval (Consul's
 * `lib.RandomStagger`), so single runs swing by up to 10 s: the pipeline and the floor run at once on the
 * same clusters (see coldRun), and the medians of N runs are compared. Reported, never asserted.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConsulClient } from '#commons/consul/client';
import { createEvent } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import { Logger } from '@aws-lambda-powertools/logger';
import { DEFAULT_SETTINGS, type PipelineSettings } from '#commons/workflows/context';
import { ensureMeshConfig } from '#commons/workflows/ensure-mesh-config';
import { ensureMeshGatewayRegistered, requirePassingGateway } from '#commons/workflows/ensure-mesh-gateway';
import { DEFAULT_GATEWAY_SERVICE } from '#commons/workflows/onboard-cluster';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { LocalPipeline } from '../local/pipeline';
import { QUEUE_DEFAULTS, WORKER_DEFAULTS } from '../infra/constructs/defaults';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { startMeshGateways, type SniRoutingGateway } from '#devkit/sni-routing-gateway';
import { consulVersion, resolveConsulBinary } from '#devkit/consul-binary';
import { median, progress, round } from './bench/support';
import { mapWithConcurrency } from '#commons/bounded-concurrency';

const USAGE = `usage: npx tsx scripts/bench-cold.ts [--json] [--runs N]
  --json     one JSON object on stdout (progress always goes to stderr)
  --runs N   p1 pairs per variant (default 3); p5 runs once per variant`;

/** The targets, reported and never asserted. */
const TARGETS = { p1: { factor: 1.1, plusMs: 1000 }, p5: { factor: 1.2, plusMs: 1000 } };
const TIMEOUT_MS = 180_000;
const SECRET_PREFIX = 'consul-peering';
const SETTINGS: PipelineSettings = { ...DEFAULT_SETTINGS, secretPrefix: SECRET_PREFIX };
const VISIBILITY_TIMEOUT_SECONDS =
  WORKER_DEFAULTS['accept-peering'].timeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutPerFunctionTimeout;

/** Lambda's event source mappings as the stack sets them: concurrent instances and batch size per step. */
const EVENT_SOURCES = Object.fromEntries(
  (
    [
      ['onboard', 'onboard-cluster'],
      ['accept', 'accept-peering'],
      ['dial', 'dial-peering'],
    ] as const
  ).map(([stage, fn]) => [
    stage,
    { consumers: WORKER_DEFAULTS[fn].maxConcurrency, batchSize: WORKER_DEFAULTS[fn].batchSize },
  ]),
);

interface World {
  clusters: LocalConsulCluster[];
  gateways: SniRoutingGateway[];
  admins: ConsulClient[];
}

async function withWorld<T>(binary: string, size: number, use: (world: World) => Promise<T>): Promise<T> {
  const clusters = await startConsulClusters(size, { binary });
  const gateways = await startMeshGateways(clusters);
  const admins = clusters.map((c) => new ConsulClient({ address: c.address, token: c.managementToken }));
  try {
    return await use({ clusters, gateways, admins });
  } finally {
    await Promise.all(admins.map((a) => a.close()));
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all(clusters.map((c) => c.stop()));
  }
}

/** Every pair once, the lower-numbered cluster accepting. */
const pairsOf = (size: number): [number, number][] =>
  Array.from({ length: size }, (_, i) =>
    Array.from({ length: size - i - 1 }, (_, j): [number, number] => [i, i + j + 1]),
  ).flat();

const ref = (cluster: LocalConsulCluster) => ({
  name: cluster.datacenter,
  connectionSecret: clusterSecretName(SECRET_PREFIX, cluster.datacenter),
});

async function bothActive(
  world: World,
  [a, d]: [number, number],
  peerName: (cluster: LocalConsulCluster | undefined) => string = (c) => c?.datacenter ?? '',
): Promise<boolean> {
  const [onA, onD] = await Promise.all([
    world.admins[a]?.readPeering(peerName(world.clusters[d])),
    world.admins[d]?.readPeering(peerName(world.clusters[a])),
  ]);
  return onA?.state === 'ACTIVE' && onD?.state === 'ACTIVE';
}

/** The pipeline from the instant every registration and request is published to every outcome. */
async function pipelineRun(world: World, t0: number): Promise<number> {
  const size = world.clusters.length;
  const tempDir = await mkdtemp(join(tmpdir(), 'peering-bench-cold-'));
  const pipeline = LocalPipeline.inProcess({
    settings: SETTINGS,
    logger: new Logger({ serviceName: 'bench-cold', logLevel: 'SILENT' }),
    secretsFile: join(tempDir, 'secrets.json'),
    visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    eventSources: EVENT_SOURCES,
  });
  try {
    for (const cluster of world.clusters) {
      await pipeline.secrets.put(
        clusterSecretName(SECRET_PREFIX, cluster.datacenter),
        JSON.stringify({ address: cluster.address, token: cluster.managementToken }),
      );
    }
    pipeline.start();
    const pairs = pairsOf(size);
    await Promise.all([
      ...world.clusters.map((cluster, i) => {
        const hostPort = { address: '127.0.0.1', port: world.gateways[i]?.port ?? 0 };
        return pipeline.publish(
          createEvent(
            'cluster.registered',
            { cluster: ref(cluster), gateway: { lan: hostPort, wan: hostPort } },
            { correlationId: `onboard-${cluster.datacenter}` },
          ),
        );
      }),
      ...pairs.map(([a, d]) =>
        pipeline.publish(
          createEvent(
            'peering.requested',
            {
              acceptor: ref(world.clusters[a] as LocalConsulCluster),
              dialer: ref(world.clusters[d] as LocalConsulCluster),
            },
            { correlationId: `pair-${a}-${d}` },
          ),
        ),
      ),
    ]);
    const outcomes = await Promise.all(
      pairs.map(([a, d]) => pipeline.waitForOutcome(`pair-${a}-${d}`, TIMEOUT_MS)),
    );
    const ms = performance.now() - t0;
    const failed = outcomes.filter((o) => o.type !== 'peering.established');
    if (failed.length > 0) throw new Error(`pipeline: ${failed.length} peerings failed`);
    for (const pair of pairs)
      if (!(await bothActive(world, pair))) throw new Error('outcome says established, Consul does not');
    return ms;
  } finally {
    await pipeline.stop();
    await rm(tempDir, { recursive: true, force: true });
  }
}

/**
 * The floor: the same Consul work by direct calls, every cluster at once, then the pairs, at most
 * `dialLimit` at a time (all at once, or as many as the stack lets the dial step run), under peer
 * names ending in `suffix`.
 */
async function floorRun(world: World, t0: number, suffix: string, dialLimit: number): Promise<number> {
  const size = world.clusters.length;
  const floorName = (cluster: LocalConsulCluster | undefined): string =>
    `${cluster?.datacenter ?? ''}-${suffix}`;
  await Promise.all(
    world.admins.map(async (admin, i) => {
      const hostPort = { address: '127.0.0.1', port: world.gateways[i]?.port ?? 0 };
      await ensureMeshGatewayRegistered(
        admin,
        { serviceName: DEFAULT_GATEWAY_SERVICE, lan: hostPort, wan: hostPort },
        SETTINGS.gatewayCheckInterval,
      );
      await ensureMeshConfig(admin);
      for (;;) {
        try {
          await requirePassingGateway(admin, `dc${i + 1}`, DEFAULT_GATEWAY_SERVICE);
          return;
        } catch {
          await sleep(50);
        }
      }
    }),
  );
  await mapWithConcurrency(pairsOf(size), dialLimit, async ([a, d]) => {
    const acceptor = world.admins[a] as ConsulClient;
    const dialer = world.admins[d] as ConsulClient;
    const peeringToken = await acceptor.generatePeeringToken({
      peerName: floorName(world.clusters[d]),
    });
    await dialer.establishPeering({ peerName: floorName(world.clusters[a]), peeringToken });
    while (!(await bothActive(world, [a, d], floorName))) {
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error('floor: not ACTIVE in time');
      await sleep(50);
    }
  });
  return performance.now() - t0;
}

/**
 * Pipeline and floor on the SAME fresh clusters, started at the same instant, the floor under its own
 * peer names: a gateway's first check runs after a random stagger within its interval and the
 * dialer's stream starts on a 5 s rate-limited loop, so separate clusters would compare two draws of
 * that randomness; here both wait for the same gateways and ticks, and the difference is ours.
 */
function coldRun(
  binary: string,
  size: number,
): Promise<{ pipelineMs: number; floorMs: number; floorAtStackConcurrencyMs: number }> {
  return withWorld(binary, size, async (world) => {
    const t0 = performance.now();
    const [pipelineMs, floorMs, floorAtStackConcurrencyMs] = await Promise.all([
      pipelineRun(world, t0),
      floorRun(world, t0, 'floor', Number.MAX_SAFE_INTEGER),
      // One pair never meets the cap: the capped floor would only add load to the same clusters.
      pairsOf(size).length > WORKER_DEFAULTS['dial-peering'].maxConcurrency
        ? floorRun(world, t0, 'capped', WORKER_DEFAULTS['dial-peering'].maxConcurrency)
        : Promise.resolve(Number.NaN),
    ]);
    return { pipelineMs, floorMs, floorAtStackConcurrencyMs };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      runs: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 20)
    throw new Error(`--runs must be an integer from 1 to 20, got "${values.runs}"`);
  const binary = resolveConsulBinary();
  const p1: number[] = [];
  const p1Floor: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const { pipelineMs, floorMs } = await coldRun(binary, 2);
    p1.push(pipelineMs);
    p1Floor.push(floorMs);
    progress(
      `p1 cold run ${run}/${runs}: pipeline ${round(p1.at(-1) ?? 0)} ms, floor ${round(p1Floor.at(-1) ?? 0)} ms`,
    );
  }
  const {
    pipelineMs: p5,
    floorMs: p5Floor,
    floorAtStackConcurrencyMs: p5FloorCapped,
  } = await coldRun(binary, 5);
  progress(
    `p5 mesh: pipeline ${round(p5)} ms, floor ${round(p5Floor)} ms, at the stack's concurrency ${round(p5FloorCapped)} ms`,
  );
  const p1Median = median(p1);
  const p1FloorMedian = median(p1Floor);
  const result = {
    consul: consulVersion(binary),
    settings: {
      gateway_check_interval: SETTINGS.gatewayCheckInterval,
      visibility_timeout_s: VISIBILITY_TIMEOUT_SECONDS,
      max_receive_count: QUEUE_DEFAULTS.maxReceiveCount,
      event_sources: EVENT_SOURCES,
      retry_base_s: SETTINGS.retryBaseSeconds,
      retry_cap_s: SETTINGS.retryCapSeconds,
      readiness_wait_ms: SETTINGS.readinessWaitMs,
    },
    p1_cold_ms: round(p1Median),
    p1_cold_floor_ms: round(p1FloorMedian),
    p1_cold_ratio: round(p1Median / p1FloorMedian),
    p1_cold_runs_ms: p1.map(round),
    p1_cold_floor_runs_ms: p1Floor.map(round),
    p1_cold_target_met: p1Median <= TARGETS.p1.factor * p1FloorMedian + TARGETS.p1.plusMs,
    p5_mesh_ms: round(p5),
    p5_mesh_floor_ms: round(p5Floor),
    p5_mesh_ratio: round(p5 / p5Floor),
    p5_mesh_target_met: p5 <= TARGETS.p5.factor * p5Floor + TARGETS.p5.plusMs,
    // The same direct calls, at most as many establish-and-wait-for-ACTIVE at once as the stack lets
    // the dial step run (its maxConcurrency, which protects Consul).
    p5_mesh_floor_at_stack_concurrency_ms: round(p5FloorCapped),
    p5_mesh_ratio_at_stack_concurrency: round(p5 / p5FloorCapped),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else
    for (const [key, value] of Object.entries(result))
      process.stdout.write(`${key}: ${JSON.stringify(value)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-cold: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
