/**
 * `npm run chaos [-- --json] [-- --ci] [-- --only REGEX]`: the fault matrix. One world (two persistent
 * Consul servers, moto, stand-in gateways, toxiproxy in front of each, a fault layer in front of moto),
 * a fault-free baseline, then one scenario at a time from a blank state:
 *   crash           the function dies before each side effect of the whole flow and after the last;
 *                   `peerctl unpeer` SIGKILLed before each of its writes
 *   consul-restart  SIGKILL + restart of the acceptor's, then the dialer's Consul at each stage
 *   network         toxiproxy latency / blackhole / timeout / reset_peer / slow_close / down-and-back on
 *                   each Consul HTTP API, each gateway and moto
 *   aws             Secrets Manager and SQS answering 5xx, throttling and timing out for a while
 * Every scenario must converge (checked in Consul and Secrets Manager directly) and prove that its
 * fault happened; one that does not is reported as FAILED with its reason, never left out.
 * Progress and the table go to stderr; stdout carries only the result (a table, or JSON with --json).
 * Exit code 1 when any scenario failed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConsulBinary } from '#devkit/consul-binary';
import { formatTable, runMatrix } from '#devkit/chaos-matrix';
import { startChaosWorld } from '#devkit/chaos-world';
import { OwnedProcess } from '#devkit/owned-process';
import { toxiproxyBinary } from '#devkit/toxiproxy';

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    ci: { type: 'boolean', default: false },
    only: { type: 'string' },
    logs: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: npm run chaos [-- --json] [-- --ci] [-- --only REGEX]\n' +
      '  --json   the matrix as one JSON object on stdout\n' +
      '  --ci     only the subset the CI runs (test/integration/chaos.test.ts)\n' +
      '  --only   only the scenarios whose id matches REGEX (the baseline always runs)\n' +
      "  --logs   a directory to write the Consul agents' and toxiproxy's logs to at the end\n",
  );
  process.exit(0);
}

const progress = (line: string): void => {
  process.stderr.write(`[chaos] ${line}\n`);
};

async function main(): Promise<number> {
  const consulBinary = process.env.CONSUL_BIN ?? resolveConsulBinary();
  toxiproxyBinary();
  progress('starting the world: 2 persistent Consul servers, moto, toxiproxy, gateway relays');
  const world = await startChaosWorld({ consulBinary });
  try {
    const only = values.only === undefined ? undefined : new RegExp(values.only);
    const report = await runMatrix(world, values.ci ? 'ci' : 'full', {
      ...(only === undefined ? {} : { only: (id: string) => only.test(id) }),
      repeat: Number(values.repeat),
      onResult: (r) => {
        progress(
          `${r.outcome === 'converged' ? 'ok    ' : 'FAILED'} ${r.id} (${r.where}) ${r.outcome === 'converged' ? `${(r.convergeMs / 1000).toFixed(1)} s` : (r.reason ?? '')} [${r.evidence}]`,
        );
      },
    });
    const failed = report.results.filter((r) => r.outcome === 'failed').length;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...report, failed }, null, 2)}\n`);
    } else {
      process.stdout.write(`${formatTable(report.results)}\n`);
      process.stdout.write(
        `\n${report.results.length} scenarios, ${failed} failed; baseline converged in ${(report.baseline.convergeMs / 1000).toFixed(1)} s with ${report.baseline.writes} side effects; ${(report.totalMs / 60_000).toFixed(1)} min in all\n`,
      );
    }
    return failed === 0 ? 0 : 1;
  } finally {
    if (values.logs !== undefined) {
      await mkdir(values.logs, { recursive: true });
      for (const c of [world.dc1, world.dc2])
        await writeFile(join(values.logs, `consul-${c.name}.log`), c.consul.log);
      await writeFile(join(values.logs, 'toxiproxy.log'), world.toxiproxy.log);
      progress(`logs written to ${values.logs}`);
    }
    await world.stop();
  }
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (error: unknown) => {
    progress(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await OwnedProcess.stopAll();
    process.exitCode = 2;
  });
