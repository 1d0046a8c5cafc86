import type { ChaosWorld } from './chaos-world';
import {
  allCrashScenarios,
  awsScenarios,
  crashScenario,
  namedCrashScenarios,
  networkScenarios,
  restartScenarios,
  runBaseline,
  runUnpeerCrash,
  type Baseline,
  type Scenario,
  type ScenarioResult,
} from './chaos-scenarios';

/** `full`: every scenario (npm run chaos). `ci`: a representative subset of each family (the jest file). */
export type MatrixSize = 'full' | 'ci';

const CI_NETWORK = new Set(['latency-consul-dc1', 'blackhole-gateway-dc1', 'down-consul-dc2', 'reset-moto']);
const CI_AWS = new Set(['sm-5xx-5s', 'sqs-send-throttle']);
const CI_RESTART = new Set(['restart-dc1-accept', 'restart-dc1-activation', 'restart-dc2-onboarding']);

export interface MatrixReport {
  baseline: Omit<Baseline, 'effects'> & { sideEffects: string[] };
  results: ScenarioResult[];
  totalMs: number;
}

/**
 * Runs the fault matrix in one world, one scenario at a time, each from a blank state. A scenario that
 * does not converge is reported with its reason and the run goes on: nothing is dropped from the table.
 */
export async function runMatrix(
  world: ChaosWorld,
  size: MatrixSize,
  {
    only,
    onResult,
    repeat = 1,
  }: { only?: (id: string) => boolean; onResult?: (r: ScenarioResult) => void; repeat?: number } = {},
): Promise<MatrixReport> {
  const started = Date.now();
  const baseline = await runBaseline(world);
  const results: ScenarioResult[] = [];
  const record = (result: ScenarioResult): void => {
    results.push(result);
    onResult?.(result);
  };
  const run = async (s: Scenario): Promise<void> => {
    if (only !== undefined && !only(s.id)) return;
    for (let i = 0; i < repeat; i++) await runOnce(s);
  };
  const runOnce = async (s: Scenario): Promise<void> => {
    try {
      record(await s.run(world, baseline));
    } catch (error) {
      record({
        id: s.id,
        family: s.family,
        fault: s.fault,
        where: s.where,
        outcome: 'failed',
        reason: `the scenario itself failed: ${error instanceof Error ? error.message : String(error)}`,
        convergeMs: 0,
        extraWrites: 0,
        secretVersionsAdded: 0,
        evidence: 'none',
      });
    }
  };

  const crashes = size === 'full' ? allCrashScenarios(baseline) : namedCrashScenarios(baseline);
  for (const s of crashes) await run(s);
  if (size === 'full') {
    // Past the last side effect the fault-free run saw: the enumeration ends when a run never reaches N.
    const beyond = baseline.effects.length + 1;
    const extra = crashScenario(beyond, 'before', 'beyond the last side effect');
    const probe = await extra.run(world, baseline);
    if (probe.evidence !== 'none') record(probe);
  }

  // Unpeer: N = 1, 2, … until a run ends without reaching its Nth write (full), or two points (ci).
  const unpeerPoints: ['before' | 'after', number][] =
    size === 'full'
      ? []
      : [
          ['before', 2],
          ['after', 1],
        ];
  if (size === 'full') {
    for (let n = 1; n <= 12; n++) {
      if (only !== undefined && !only(`unpeer-crash-before-${n}`)) continue;
      const { result, reached } = await runUnpeerCrash(world, n, 'before');
      if (!reached) break;
      record(result);
    }
    unpeerPoints.push(['after', 1]);
  }
  for (const [when, n] of unpeerPoints) {
    if (only !== undefined && !only(`unpeer-crash-${when}-${n}`)) continue;
    record((await runUnpeerCrash(world, n, when)).result);
  }

  for (const s of restartScenarios()) if (size === 'full' || CI_RESTART.has(s.id)) await run(s);
  for (const s of networkScenarios()) if (size === 'full' || CI_NETWORK.has(s.id)) await run(s);
  for (const s of awsScenarios()) if (size === 'full' || CI_AWS.has(s.id)) await run(s);

  return {
    baseline: {
      writes: baseline.writes,
      secretVersions: baseline.secretVersions,
      convergeMs: baseline.convergeMs,
      sideEffects: baseline.effects.map((e) => `#${e.n} ${e.port}:${e.subject}:${e.operation}`),
    },
    results,
    totalMs: Date.now() - started,
  };
}

/** One row per scenario: fault, where, outcome, time to converge, extra writes, secret versions added. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'family',
    'fault',
    'where',
    'outcome',
    'converge s',
    'extra writes',
    '+secret versions',
  ];
  const rows = results.map((r) => [
    r.id,
    r.family,
    r.fault,
    r.where,
    r.outcome === 'converged' ? 'converged' : `FAILED: ${r.reason ?? ''}`,
    r.outcome === 'converged' ? (r.convergeMs / 1000).toFixed(1) : '-',
    String(r.extraWrites),
    String(r.secretVersionsAdded),
  ]);
  const escape = (cell: string) => cell.replaceAll('|', '\\|');
  return [header, header.map(() => '---'), ...rows]
    .map((row) => `| ${row.map(escape).join(' | ')} |`)
    .join('\n');
}
