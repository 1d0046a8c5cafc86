/**
 * `npm run bench [-- --json] [-- --runs N]`: the pipeline benchmark (p1, p2: scripts/bench.ts) then the
 * drift-scan benchmark (p3: scripts/bench-drift.ts), then the cold path (p1_cold, p5_mesh:
 * scripts/bench-cold.ts), each in its own process so neither's clusters load
 * the other's measurements. With --json, one object with both results' fields.
 */
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const json = args.includes('--json');
const runs = args.includes('--runs') ? ['--runs', args[args.indexOf('--runs') + 1] ?? ''] : [];

function run(script: string, extra: string[]): string {
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'], // progress lines go straight to the terminal
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) {
    process.stderr.write(`${script} failed (exit ${String(result.status)})\n`);
    process.exit(result.status ?? 1);
  }
  return result.stdout;
}

const pipeline = run('scripts/bench.ts', [...(json ? ['--json'] : []), ...runs]);
const drift = run('scripts/bench-drift.ts', json ? ['--json'] : []);
const cold = run('scripts/bench-cold.ts', json ? ['--json'] : []);
if (json) {
  const merged: Record<string, unknown> = {
    ...(JSON.parse(pipeline) as Record<string, unknown>),
    ...(JSON.parse(drift) as Record<string, unknown>),
    ...(JSON.parse(cold) as Record<string, unknown>),
  };
  process.stdout.write(`${JSON.stringify(merged, null, 2)}\n`);
} else {
  process.stdout.write(`${pipeline}\n${drift}\n${cold}`);
}
