import type { PipelineEvent } from '#commons/events/index';
import { remediateDrift, scanDrift, type DriftReport } from '#commons/workflows/drift/scan-drift';
import { expectPositionals, type ParsedArgs } from '../args';
import type { Command, CommandContext } from '../command';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP, CONCURRENCY_HELP, WAIT_HELP } from '../help-text';
import {
  ACCEPT_QUEUE,
  BACKEND,
  backendChoice,
  CONCURRENCY,
  concurrencyChoice,
  HELP,
  JSON_OUTPUT,
  ONBOARD_QUEUE,
  WAIT,
  waitChoice,
} from '../options';
import { describeEvent } from '../../local/progress';
import { waitAndSummarise, watchOnboarding, watchPeering, type Outcome } from '../requests';
import { openRuntime, type Runtime } from '../runtime';
import { renderTable } from '../table';
import type { Watched } from '../wait';

const SCAN_HELP = `The scan compares the desired state in the secret store (registered clusters, wanted peerings,
stored tokens) with Consul, read-only and with bounded concurrency: per cluster the mesh flag, the
gateway (registered, passing), the gateway ACL token (secret and Consul); per wanted peering the
state on both sides (missing, FAILING, TERMINATED, PENDING too long); and orphan peering tokens.
Each finding says what remediation does about it, or that it needs a person.`;

const SCAN_OPTIONS_HELP = `  --json                  the report and the actions as one JSON document on stdout
  --pending-too-long SECS a peering PENDING longer than this is drift (default 900)
${CONCURRENCY_HELP}`;

const PLAN_HELP = `usage: peerctl plan [--json] [options]

The drift scan as a dry run: prints the findings and what "peerctl remediate" would do (the events
it would publish, the secrets it would delete). Changes nothing.

${SCAN_HELP}

${SCAN_OPTIONS_HELP}

${BACKEND_HELP}

examples
  peerctl plan
  peerctl plan --aws --json | jq '.report.findings[] | select(.kind == "peering-failing")'

exit codes
  0  no drift   1  the scan failed   2  bad input   3  drift found`;

const REMEDIATE_HELP = `usage: peerctl remediate [--json] [options]

The drift scan for real: scans, then heals every finding it can through the pipeline itself (one
cluster.registered per drifted cluster, one peering.requested per drifted peering, with a new token
when the stored one cannot complete it; orphan token secrets deleted), and waits for the outcome.
Findings that need a person are listed and left alone. Run "peerctl plan" afterwards to confirm.

${SCAN_HELP}

${SCAN_OPTIONS_HELP}
  --onboard-queue-url URL, --accept-queue-url URL
                          with --aws: the deployed queues (default $ONBOARD_QUEUE_URL, $ACCEPT_QUEUE_URL)

${BACKEND_HELP}

${WAIT_HELP}

examples
  peerctl remediate
  peerctl remediate --aws --wait

exit codes
  0  no drift, or every remedy done (with --aws and no --wait: published)
  1  a remedy failed or timed out, or the scan failed   2  bad input`;

function scanOptions(args: ParsedArgs): { concurrency: number; pendingTooLongMs?: number } {
  const pending = args.string('pending-too-long');
  return {
    concurrency: concurrencyChoice(args),
    ...(pending === undefined
      ? {}
      : {
          pendingTooLongMs:
            fields.wholeNumber(pending, '--pending-too-long', 1, 30 * 86_400, 'seconds') * 1000,
        }),
  };
}

function printReport(out: CommandContext['out'], report: DriftReport): void {
  out.result(
    `scanned ${report.clusters} cluster(s), ${report.peerings} wanted peering(s) at ${report.scannedAt} (${report.consulCalls} Consul reads)`,
  );
  if (report.findings.length === 0) {
    out.result('no drift');
    return;
  }
  out.result(`${report.findings.length} finding(s)`);
  for (const line of renderTable(
    ['KIND', 'CLUSTER', 'PEER', 'DETAIL', 'REMEDY'],
    report.findings.map((f) => [f.kind, f.cluster, f.peer ?? '-', f.detail, f.remedy]),
  ))
    out.result(`  ${line}`);
}

function printActions(
  out: CommandContext['out'],
  actions: { published: PipelineEvent[]; deletedSecrets: string[] },
  dryRun: boolean,
): void {
  if (actions.published.length === 0 && actions.deletedSecrets.length === 0) {
    out.result(
      dryRun
        ? 'remediate would change nothing (every finding needs a person)'
        : 'nothing to remediate automatically',
    );
    return;
  }
  out.result(dryRun ? 'remediate would:' : 'remediation:');
  for (const event of actions.published)
    out.result(`  ${dryRun ? 'publish' : 'published'} ${describeEvent(event)}`);
  for (const name of actions.deletedSecrets) out.result(`  ${dryRun ? 'delete' : 'deleted'} secret ${name}`);
}

const summary = (event: PipelineEvent): Record<string, unknown> => ({
  type: event.type,
  correlationId: event.correlationId,
  data: event.data,
});

async function plan(args: ParsedArgs, { out, env }: CommandContext): Promise<ExitCode> {
  expectPositionals(args, []);
  const options = scanOptions(args);
  const runtime = openRuntime({ backend: backendChoice(args, env), env, out });
  try {
    const context = runtime.workflowContext();
    const report = await scanDrift(context, options);
    const actions = await remediateDrift(report, context, { dryRun: true });
    if (args.flag('json')) {
      out.result(
        JSON.stringify(
          {
            report,
            actions: { publish: actions.published.map(summary), deleteSecrets: actions.deletedSecrets },
          },
          null,
          2,
        ),
      );
    } else {
      printReport(out, report);
      if (report.findings.length > 0) printActions(out, actions, true);
    }
    return report.findings.length === 0 ? EXIT.ok : EXIT.drift;
  } finally {
    await runtime.close();
  }
}

function watchEvent(
  runtime: Runtime,
  event: PipelineEvent,
  out: CommandContext['out'],
): Watched<Outcome> | undefined {
  if (event.type === 'cluster.registered')
    return watchOnboarding(runtime, { event, gateway: event.data.gateway });
  if (event.type === 'peering.requested') return watchPeering(runtime, { event }, out);
  return undefined;
}

async function remediate(args: ParsedArgs, { out, env, signal }: CommandContext): Promise<ExitCode> {
  expectPositionals(args, []);
  const options = scanOptions(args);
  const backend = backendChoice(args, env, { onboard: true, accept: true });
  const waiting = waitChoice(args, backend);
  const runtime = openRuntime({ backend, env, out });
  try {
    out.progress(runtime.description);
    const context = runtime.workflowContext();
    const report = await scanDrift(context, options);
    const json = args.flag('json');
    if (!json) printReport(out, report);
    const actions = await remediateDrift(report, context);
    if (!json && report.findings.length > 0) printActions(out, actions, false);
    const watched = actions.published
      .map((event) => watchEvent(runtime, event, out))
      .filter((w): w is Watched<Outcome> => w !== undefined);
    const code =
      watched.length === 0 || !waiting.wait
        ? EXIT.ok
        : await waitAndSummarise(watched, {
            runtime,
            out,
            timeoutMs: waiting.timeoutMs,
            signal,
            summaryOnStderr: json,
          });
    if (json) {
      out.result(
        JSON.stringify(
          {
            report,
            published: actions.published.map(summary),
            deletedSecrets: actions.deletedSecrets,
            exitCode: code,
          },
          null,
          2,
        ),
      );
    }
    return code;
  } finally {
    await runtime.close();
  }
}

const SCAN_FLAGS = {
  ...HELP,
  ...JSON_OUTPUT,
  ...CONCURRENCY,
  'pending-too-long': { type: 'string' as const },
  ...BACKEND,
};

export const planCommand: Command = {
  name: 'plan',
  summary: 'drift scan, dry run: findings and what remediate would do (exit 3 on drift)',
  help: PLAN_HELP,
  options: SCAN_FLAGS,
  run: plan,
};

export const remediateCommand: Command = {
  name: 'remediate',
  summary: 'drift scan, then heal what can be healed through the pipeline',
  help: REMEDIATE_HELP,
  options: { ...SCAN_FLAGS, ...WAIT, ...ONBOARD_QUEUE, ...ACCEPT_QUEUE },
  run: remediate,
};
