/**
 * `npx tsx scripts/bench-drift.ts [--json] [--clusters N] [--runs R]`: what a drift scan costs on a
 * converged fleet.
 *
 * Starts N local Consul datacenters (ACLs on; default 5), each with a stand-in mesh gateway, registers
 * and onboards them all and peers every pair through the in-process pipeline (N·(N-1)/2 peerings, the
 * lower-numbered cluster accepting), then runs `scanDrift` R times on the converged fleet:
 *   p3_scan_ms_per_cluster  median scan time / clusters
 *   p3_calls_per_cluster    Consul calls of one scan / clusters
 *   p3_writes_converged     Consul writes during the scans (must be 0)
 * and scans 2- and 3-cluster subsets (a view of the same secret store) to show that calls grow with
 * clusters, not with peerings. Progress goes to stderr; stdout carries only the result.
 *
 * The gateways are the devkit's SNI-routing stand-ins (devkit/sni-routing-gateway.ts): a
 * connection for `server.<dc>.peering.<trust domain>` goes to that datacenter's own gRPC TLS port when
 * the gateway is dc's, else to dc's gateway, so one gateway serves a cluster that accepts and dials.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createEvent, type PipelineEvent } from '#commons/events/index';
import { clusterSecretName } from '#commons/naming';
import { createLogger } from '#commons/observability/logger';
import type { SecretStore } from '#commons/ports/secret-store';
import { DEFAULT_SETTINGS, type WorkflowContext } from '#commons/workflows/context';
import { scanDrift, type DriftReport } from '#commons/workflows/drift/scan-drift';
import { LocalPipeline } from '../local/pipeline';
import { isWrite, recordingCalls, type ConsulCall } from '#devkit/consul-call-recorder';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';
import { consulVersion, resolveConsulBinary } from '#devkit/consul-binary';
import { startMeshGateways } from '#devkit/sni-routing-gateway';
import { median } from './bench/support';

const USAGE = `usage: npx tsx scripts/bench-drift.ts [--json] [--clusters N] [--runs R]

Peers every pair of N local Consul datacenters through the in-process pipeline, then measures
drift scans of the converged fleet (and of 2- and 3-cluster subsets).
  --json         one JSON object on stdout (progress always goes to stderr)
  --clusters N   datacenters (default 5; each is a Consul server process)
  --runs R       scans of the whole fleet (default 5)`;

const PREFIX = 'consul-peering';

const started = performance.now();
const progress = (text: string): void => {
  process.stderr.write(
    `[bench-drift ${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}\n`,
  );
};
const round = (n: number): number => Math.round(n * 100) / 100;

function parseCli(): { json: boolean; clusters: number; runs: number } {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      clusters: { type: 'string', default: '5' },
      runs: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const int = (raw: string, name: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  return {
    json: values.json,
    clusters: int(values.clusters, 'clusters', 2, 12),
    runs: int(values.runs, 'runs', 1, 50),
  };
}

// ---- the fleet ----

/** The secret store as a fleet of only `clusters` would have it: the listing leaves the others out. */
function subsetView(secrets: SecretStore, clusters: ReadonlySet<string>): SecretStore {
  const inSubset = (name: string): boolean => {
    const [kind, ...names] = name.slice(PREFIX.length + 1).split('/');
    return kind !== undefined && names.every((n) => clusters.has(n));
  };
  return {
    put: (...args) => secrets.put(...args),
    get: (...args) => secrets.get(...args),
    delete: (...args) => secrets.delete(...args),
    list: async (filter) => (await secrets.list(filter)).filter((s) => inSubset(s.name)),
  };
}

async function main(): Promise<void> {
  const { json, clusters: count, runs } = parseCli();
  process.env.LOG_LEVEL = 'ERROR'; // before any logger exists; Powertools prints errors on stderr

  progress('locating Consul (npm run consul:path; the first run builds it)');
  const binary = resolveConsulBinary();
  const version = consulVersion(binary);

  const closers: (() => Promise<unknown>)[] = [];
  let clusters: LocalConsulCluster[] = [];
  try {
    progress(`starting ${count} Consul ${version} datacenters`);
    clusters = await startConsulClusters(count, { binary });
    closers.push(() => Promise.all(clusters.map((c) => c.stop())));
    const tempDir = await mkdtemp(join(tmpdir(), 'bench-drift-'));
    closers.push(() => rm(tempDir, { recursive: true, force: true }));

    const gateways = await startMeshGateways(clusters);
    closers.push(() => Promise.all(gateways.map((g) => g.close())));

    const calls: ConsulCall[] = [];
    const outcomes: PipelineEvent[] = [];
    const pipeline = LocalPipeline.inProcess({
      secretsFile: join(tempDir, 'secrets.json'),
      visibilityTimeoutSeconds: 2,
      settings: {
        ...DEFAULT_SETTINGS,
        secretPrefix: PREFIX,
        gatewayCheckInterval: '1s',
        retryCapSeconds: 2,
        // Hand the wait for ACTIVE back to the queue quickly, so one pair never holds up the others.
        activationPollMs: 1_000,
        maxAttempts: 60,
      },
      logger: createLogger('bench-drift'),
      onEvent: (event) => {
        if (event.type === 'peering.established' || event.type === 'peering.failed') outcomes.push(event);
      },
      wrapConsul: (address, api) =>
        recordingCalls(clusters.find((c) => c.address === address)?.datacenter ?? address, api, calls),
    });
    pipeline.start();
    closers.push(() => pipeline.stop());

    const setupStarted = performance.now();
    const ref = (c: LocalConsulCluster) => ({
      name: c.datacenter,
      connectionSecret: clusterSecretName(PREFIX, c.datacenter),
    });
    for (const [i, cluster] of clusters.entries()) {
      const hostPort = { address: '127.0.0.1', port: gateways[i]?.port ?? 0 };
      const gateway = { lan: hostPort, wan: hostPort };
      await pipeline.secrets.put(
        clusterSecretName(PREFIX, cluster.datacenter),
        JSON.stringify({ address: cluster.address, token: cluster.managementToken, gateway }),
      );
      await pipeline.publish(
        createEvent('cluster.registered', { cluster: ref(cluster), gateway }, { correlationId: 'onboard' }),
      );
    }
    const pairs = clusters.flatMap((acceptor, i) =>
      clusters.slice(i + 1).map((dialer) => ({ acceptor, dialer })),
    );
    progress(`onboarding ${count} clusters and peering ${pairs.length} pairs through the pipeline`);
    for (const { acceptor, dialer } of pairs) {
      await pipeline.publish(
        createEvent(
          'peering.requested',
          { acceptor: ref(acceptor), dialer: ref(dialer) },
          { correlationId: `peer-${acceptor.datacenter}-${dialer.datacenter}` },
        ),
      );
    }
    for (const { acceptor, dialer } of pairs) {
      const outcome = await pipeline.waitForOutcome(
        `peer-${acceptor.datacenter}-${dialer.datacenter}`,
        300_000,
      );
      if (outcome.type !== 'peering.established') {
        throw new Error(`${acceptor.datacenter} → ${dialer.datacenter}: ${JSON.stringify(outcome.data)}`);
      }
    }
    const setupMs = performance.now() - setupStarted;
    progress(
      `${outcomes.length} peerings ACTIVE after ${Math.round(setupMs / 1000)} s; gateways carried ` +
        `${gateways.reduce((s, g) => s + g.counters.total.connections, 0)} connections ` +
        `(${gateways.reduce((s, g) => s + g.counters.unrouted, 0)} unrouted)`,
    );

    const context: WorkflowContext = pipeline.workflowContext();
    // The fleet is converged once a scan finds nothing (onboarding may still re-check a gateway).
    const deadline = performance.now() + 60_000;
    let first: DriftReport = await scanDrift(context);
    while (first.findings.length > 0) {
      if (performance.now() > deadline)
        throw new Error(`the fleet did not converge: ${JSON.stringify(first.findings, null, 2)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      first = await scanDrift(context);
    }

    const timed = async (view: WorkflowContext) => {
      const mark = calls.length;
      const t0 = performance.now();
      const report = await scanDrift(view);
      const ms = performance.now() - t0;
      if (report.findings.length > 0)
        throw new Error(`findings on a converged fleet: ${JSON.stringify(report.findings)}`);
      const writes = calls.slice(mark).filter(isWrite).length;
      return { report, ms, writes };
    };
    const samples = [];
    for (let i = 1; i <= runs; i++) {
      const sample = await timed(context);
      samples.push(sample);
      progress(
        `scan ${i}/${runs}: ${round(sample.ms)} ms, ${sample.report.consulCalls} Consul calls, ${sample.writes} writes`,
      );
    }
    const subsets = [];
    for (const size of [2, 3].filter((n) => n < count)) {
      const names = new Set(clusters.slice(0, size).map((c) => c.datacenter));
      const view = { ...context, secrets: subsetView(context.secrets, names) };
      const runsOf = [];
      for (let i = 0; i < runs; i++) runsOf.push(await timed(view));
      const report = runsOf[0]?.report;
      subsets.push({
        clusters: report?.clusters ?? 0,
        peerings: report?.peerings ?? 0,
        calls: report?.consulCalls ?? 0,
        calls_per_cluster: round((report?.consulCalls ?? 0) / size),
        scan_ms_per_cluster: round(median(runsOf.map((r) => r.ms)) / size),
        writes: runsOf.reduce((s, r) => s + r.writes, 0),
      });
      progress(`subset of ${size}: ${report?.peerings ?? 0} peerings, ${report?.consulCalls ?? 0} calls`);
    }

    const callsTotal = samples[0]?.report.consulCalls ?? 0;
    const result = {
      consul_version: version,
      node_version: process.version,
      runs,
      p3_clusters: count,
      p3_peerings: samples[0]?.report.peerings ?? 0,
      p3_scan_ms_per_cluster: round(median(samples.map((s) => s.ms)) / count),
      p3_calls_per_cluster: round(callsTotal / count),
      p3_writes_converged:
        samples.reduce((s, r) => s + r.writes, 0) + subsets.reduce((s, r) => s + r.writes, 0),
      p3_calls_total: callsTotal,
      p3_scan_samples_ms: samples.map((s) => round(s.ms)),
      p3_subsets: subsets,
      setup_ms: Math.round(setupMs),
    };
    process.stdout.write(
      json
        ? `${JSON.stringify(result, null, 2)}\n`
        : `${Object.entries(result)
            .map(([k, v]) => `${k.padEnd(24)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
            .join('\n')}\n`,
    );
  } catch (error) {
    for (const c of clusters) progress(`--- ${c.datacenter} log (tail) ---\n${c.log.slice(-1500)}`);
    throw error;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
