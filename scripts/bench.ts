/**
 * `npm run bench [-- --json] [-- --runs N]`: how long the pipeline takes to peer two clusters, against
 * the floor of the same Consul calls made directly, and what a converged (repeated) request costs.
 *
 * Every run starts a fresh pair of local Consul datacenters (ACLs on, SNI-routing TCP relays as mesh
 * gateways) and onboards both before any timer starts, so the figures measure the peering itself:
 *   p1     publish `peering.requested` → its `peering.established` received (both sides ACTIVE),
 *          in-process pipeline, DEFAULT_SETTINGS with a 1 s gateway check
 *   floor  generate a token on the acceptor, establish on the dialer, read both sides every 50 ms until ACTIVE
 *   p2     on the ACTIVE pair, a duplicate `peering.requested`: the Consul calls the workflows make for it
 * Pipeline and floor runs alternate (A B A B …), and each floor run starts its timer at the same cluster
 * age as the pipeline run before it, so noise and Consul's own timers hit both alike. Progress goes to
 * stderr; stdout carries only the result. Figures are reported here, never asserted.
 *
 * Why the cluster age matters (Consul 1.14): the leader's peering syncer, which starts the dialer's
 * stream, is rate limited (0.2 passes/s, burst 5; agent/consul/leader_connect.go `loopRateLimit`), and
 * before the first peering exists it also wakes on unrelated writes, such as onboarding's. Once its
 * burst is spent, the stream starts on its next 5 s tick: ACTIVE comes 0.05–5 s after establish returns,
 * whoever calls establish. `p1_pipeline_overhead_ms` leaves that time out.
 */
import { parseArgs } from 'node:util';
import { floorRun, pipelineRun, type FloorRunResult, type PipelineRunResult } from './bench/runs';
import { elapsedSeconds, median, medians, progress, round } from './bench/support';
import { consulVersion, resolveConsulBinary } from '#devkit/consul-binary';

const USAGE = `usage: npx tsx scripts/bench.ts [--json] [--runs N]

Peers fresh pairs of local Consul datacenters through the in-process pipeline and with direct Consul
calls (interleaved, N of each), then prints the medians and the Consul calls of a converged request.
  --json     one JSON object on stdout (progress always goes to stderr)
  --runs N   pairs per variant (default 5)`;

/** Targets, reported and never asserted. */
const P1_TARGET = { factor: 1.1, plusMs: 500 };
const P2_MAX_READS_PER_CLUSTER = 4;

class UsageError extends Error {}

function parseCli(): { json: boolean; runs: number } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        runs: { type: 'string', default: '5' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 50) {
    throw new UsageError(`--runs must be an integer from 1 to 50, got "${values.runs}"`);
  }
  return { json: values.json, runs };
}

function summarise(
  runs: number,
  consul: string,
  pipelineResults: readonly PipelineRunResult[],
  floorResults: readonly FloorRunResult[],
) {
  const p1 = median(pipelineResults.map((r) => r.p1Ms));
  const floor = median(floorResults.map((r) => r.floorMs));
  const target = P1_TARGET.factor * floor + P1_TARGET.plusMs;
  // p2 is the same in every run in practice; the run with the most calls is reported.
  const sum = (counts: Record<string, number>): number => Object.values(counts).reduce((s, n) => s + n, 0);
  const calls = (r: PipelineRunResult): number => sum(r.p2.reads) + sum(r.p2.writes);
  const worst = pipelineResults.reduce((w, r) => (calls(r) > calls(w) ? r : w));
  return {
    runs,
    consul_version: consul,
    node_version: process.version,
    p1_request_to_active_ms: round(p1),
    p1_floor_ms: round(floor),
    p1_target_ms: round(target),
    p1_within_target: p1 <= target,
    p1_samples_ms: pipelineResults.map((r) => round(r.p1Ms)),
    floor_samples_ms: floorResults.map((r) => round(r.floorMs)),
    p1_pipeline_overhead_ms: round(median(pipelineResults.map((r) => r.overheadMs))),
    p1_pipeline_overhead_samples_ms: pipelineResults.map((r) => round(r.overheadMs)),
    p1_active_after_establish_samples_ms: pipelineResults.map((r) =>
      round(r.breakdown.active_after_establish),
    ),
    floor_active_after_establish_samples_ms: floorResults.map((r) =>
      round(r.breakdown.active_after_establish),
    ),
    p1_breakdown_median_ms: medians(pipelineResults.map((r) => r.breakdown)),
    floor_breakdown_median_ms: medians(floorResults.map((r) => r.breakdown)),
    timer_cluster_age_median_ms: {
      pipeline: round(median(pipelineResults.map((r) => r.ageAtTimerMs))),
      floor: round(median(floorResults.map((r) => r.ageAtTimerMs))),
    },
    p1_dial_rechecks: pipelineResults.reduce((s, r) => s + r.dialRechecks, 0),
    p2_converged_reads: sum(worst.p2.reads),
    p2_converged_writes: sum(worst.p2.writes),
    p2_converged_reads_per_cluster: worst.p2.reads,
    p2_converged_writes_per_cluster: worst.p2.writes,
    p2_converged_calls_by_method: worst.p2.byMethod,
    p2_within_target:
      sum(worst.p2.writes) === 0 && Object.values(worst.p2.reads).every((n) => n <= P2_MAX_READS_PER_CLUSTER),
    p2_same_in_every_run: pipelineResults.every(
      (r) => JSON.stringify(r.p2.byMethod) === JSON.stringify(worst.p2.byMethod),
    ),
  };
}

function table(result: ReturnType<typeof summarise>): string {
  const list = (values: readonly number[]): string => values.join(', ');
  const pairs = (record: Record<string, number>): string =>
    Object.entries(record)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const rows: [string, string][] = [
    ['Consul / Node', `${result.consul_version} / ${result.node_version}, ${result.runs} runs each`],
    [
      'p1 request → ACTIVE (median)',
      `${result.p1_request_to_active_ms} ms   [${list(result.p1_samples_ms)}]`,
    ],
    ['p1 floor (median)', `${result.p1_floor_ms} ms   [${list(result.floor_samples_ms)}]`],
    [
      'p1 target (1.10 × floor + 500)',
      `${result.p1_target_ms} ms   ${result.p1_within_target ? 'within' : 'OVER'}`,
    ],
    [
      'pipeline overhead (median)',
      `${result.p1_pipeline_overhead_ms} ms   [${list(result.p1_pipeline_overhead_samples_ms)}]`,
    ],
    [
      'ACTIVE after establish',
      `pipeline [${list(result.p1_active_after_establish_samples_ms)}], floor [${list(result.floor_active_after_establish_samples_ms)}] ms`,
    ],
    ['p1 breakdown (median ms)', pairs(result.p1_breakdown_median_ms)],
    ['floor breakdown (median ms)', pairs(result.floor_breakdown_median_ms)],
    ['timer at cluster age (median)', `${pairs(result.timer_cluster_age_median_ms)} ms`],
    ['p2 converged reads', `${result.p2_converged_reads} (${pairs(result.p2_converged_reads_per_cluster)})`],
    [
      'p2 converged writes',
      `${result.p2_converged_writes}   ${result.p2_within_target ? 'within target' : `OVER target (0 writes, <= ${P2_MAX_READS_PER_CLUSTER} reads per cluster)`}`,
    ],
    ['p2 calls', pairs(result.p2_converged_calls_by_method)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

async function main(): Promise<void> {
  const { json, runs } = parseCli();
  process.env.LOG_LEVEL = 'ERROR'; // before any logger exists; Powertools prints errors on stderr

  progress('locating Consul (npm run consul:path; the first run builds it)');
  const binary = resolveConsulBinary();
  const version = consulVersion(binary);
  progress(`Consul ${version} (${binary}); ${runs} run(s) of each, pipeline and floor interleaved`);

  const pipelineResults: PipelineRunResult[] = [];
  const floorResults: FloorRunResult[] = [];
  for (let i = 1; i <= runs; i++) {
    const p = await pipelineRun(binary);
    pipelineResults.push(p);
    progress(
      `run ${i}/${runs} pipeline ${round(p.p1Ms)} ms: establish call ${round(p.breakdown.establish_call)}, ` +
        `ACTIVE ${round(p.breakdown.active_after_establish)} after it, pipeline's own ${round(p.overheadMs)} ` +
        `(timer at cluster age ${round(p.ageAtTimerMs)})` +
        (p.dialRechecks > 0 ? `; ${p.dialRechecks} dial re-check(s)` : ''),
    );
    const f = await floorRun(binary, p.ageAtTimerMs);
    floorResults.push(f);
    progress(
      `run ${i}/${runs} floor    ${round(f.floorMs)} ms: establish call ${round(f.breakdown.establish_call)}, ` +
        `ACTIVE ${round(f.breakdown.active_after_establish)} after it (timer at cluster age ${round(f.ageAtTimerMs)})`,
    );
  }

  const result = summarise(runs, version, pipelineResults, floorResults);
  progress(`done in ${elapsedSeconds()} s`);
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${table(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      process.exit(2);
    }
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
