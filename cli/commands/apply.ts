import { clusterSecretName } from '#commons/naming';
import { expectPositionals, type ParsedArgs } from '../args';
import { mapBounded } from '../bounded';
import type { Command, CommandContext } from '../command';
import { messageOf, UsageError } from '../errors';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { countChanges, planFleet, readRecordedState, renderPlan, type FleetPlan } from '../fleet/fleet-plan';
import { readFleetFile, type DesiredCluster, type DesiredFleet } from '../fleet/read-fleet-file';
import { BACKEND_HELP } from '../help-text';
import {
  ACCEPT_QUEUE,
  BACKEND,
  backendChoice,
  DEFAULT_CONCURRENCY,
  DEFAULT_TIMEOUT_SECONDS,
  HELP,
  JSON_OUTPUT,
  ONBOARD_QUEUE,
  WAIT,
} from '../options';
import { peeringRequest, waitAndSummarise, watchOnboarding, watchPeering, type Outcome } from '../requests';
import { openRuntime, type Runtime } from '../runtime';
import type { Watched } from '../wait';
import { registerCluster } from './cluster-add';
import { unpeerPair } from './unpeer';

const HELP_TEXT = `usage: peerctl apply -f FILE [--dry-run] [--prune] [--json] [options]

Makes the clusters and peerings a fleet file names true, through the same steps as peerctl cluster
add, peer and unpeer. It reads and checks the whole file first: every problem is listed with where it
is (peerings[1].dialer: expected a cluster named in clusters (dc1, dc2), got "dc9") and nothing is
changed. Then it compares the file with what is recorded (the connection secrets
<prefix>/clusters/* and the wanted peerings <prefix>/peerings/*) and shows a plan:

  + register   a cluster that is new, or whose connection changed (address, token, CA, gateway, ...)
  + request    a peering that is new
  ~ request again  a peering whose exports changed
  - delete     only with --prune: a peering or cluster registration the file no longer names
  = unchanged  nothing is written; applying the same file twice makes no Consul writes ("no changes")

Then it applies the plan and waits: pruned peerings are unpeered on both sides; clusters are checked
(read-only), stored and onboarded; then the peerings are requested, until ACTIVE on both sides. A
cluster that cannot be reached is reported and skipped with its peerings; everything else goes on,
and the exit code is 1 at the end.

  -f, --file FILE      the fleet file, YAML (.yaml, .yml) or JSON (.json); its JSON Schema is
                       schemas/fleet.schema.json. Relative paths in it are relative to the file.
  --dry-run            show the plan only; change nothing
  --prune              also delete what the file no longer names: recorded peerings (unpeered on both
                       sides, their token and wanted-peering secrets deleted), then cluster
                       registrations (the connection secret; Consul and its gateway are left as
                       they are). Without --prune nothing is ever deleted.
  --json               print the plan as one JSON document (with --dry-run)
  -t, --timeout SECS   how long to wait for each phase (default: settings.timeoutSeconds, else ${DEFAULT_TIMEOUT_SECONDS})
  -v, --verbose        also print the handlers' JSON logs (local backend)
  -w, --wait           accepted; apply always waits (with --aws it polls Consul, as peer --aws --wait)
  --onboard-queue-url URL, --accept-queue-url URL   with --aws: the pipeline's first two queues

a fleet file (fleet.yaml)
  settings:
    secretPrefix: consul-peering        # optional; else $SECRET_PREFIX, else "consul-peering"
    timeoutSeconds: 300                 # optional
  clusters:
    - name: dc1
      address: https://consul.dc1.example.com:8501
      tokenFile: ~/.config/consul/dc1.token   # or tokenEnv: CONSUL_TOKEN_DC1 (never the token itself)
      caFile: certs/dc1-ca.pem                # optional, https only
      gateway:                                # optional: the mesh gateway to register
        lan: { address: 10.1.0.10, port: 8443 }
        wan: { address: 203.0.113.10, port: 8443 }
    - name: dc2
      address: http://10.2.0.5:8500
      tokenEnv: CONSUL_TOKEN_DC2
  peerings:
    - acceptor: dc1                     # generates the peering token
      dialer: dc2                       # establishes the peering with it
      exportServices: [web]             # dc1 exports web to dc2

${BACKEND_HELP}

examples
  peerctl apply -f examples/fleet.yaml --dry-run
  peerctl apply -f examples/fleet.yaml
  peerctl apply -f fleet.json --prune --dry-run --json | jq .deletions
  peerctl apply -f fleet.yaml --aws --onboard-queue-url ... --accept-queue-url ...

exit codes
  0  applied (or no changes; --dry-run: the plan)   1  an item failed or a cluster was unreachable
  2  bad input: the file's problems, or a pair recorded the other way round (nothing was changed)`;

/** The plan as `--json` prints it. */
function planJson(plan: FleetPlan, file: string): Record<string, unknown> {
  return {
    file,
    changes: countChanges(plan),
    clusters: plan.clusters,
    peerings: plan.peerings,
    prune: plan.prune,
    deletions: plan.deletions,
    kept: plan.kept,
    conflicts: plan.conflicts,
  };
}

interface ApplyContext {
  runtime: Runtime;
  out: CommandContext['out'];
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const worse = (a: ExitCode, b: ExitCode): ExitCode =>
  a === EXIT.interrupted || b === EXIT.interrupted ? EXIT.interrupted : a === EXIT.ok ? b : a;

/** Pruned peerings first (a pair may come back the other way round), then the registrations. */
async function prune(plan: FleetPlan, context: ApplyContext): Promise<{ code: ExitCode; kept: Set<string> }> {
  const { runtime, out } = context;
  let code: ExitCode = EXIT.ok;
  /** Clusters whose registration is kept because one of their peerings could not be deleted. */
  const kept = new Set<string>();
  for (const pair of plan.deletions.peerings) {
    out.progress(`unpeering ${pair.acceptor} -> ${pair.dialer} (not in the file)`);
    let result: ExitCode;
    try {
      result = await unpeerPair(runtime, pair.acceptor, pair.dialer, context);
    } catch (error) {
      out.result(`${pair.acceptor} -> ${pair.dialer}  not deleted  ${messageOf(error)}`);
      result = EXIT.failed;
    }
    if (result !== EXIT.ok) {
      kept.add(pair.acceptor).add(pair.dialer);
      code = worse(code, result);
    }
  }
  for (const name of plan.deletions.clusters) {
    if (kept.has(name)) {
      out.result(`cluster ${name}  kept  a peering of it could not be deleted; run apply --prune again`);
      continue;
    }
    const secret = clusterSecretName(runtime.settings.secretPrefix, name);
    await runtime.secrets.delete(secret, { forceWithoutRecovery: true });
    out.result(`cluster ${name}  deleted  secret ${secret} (Consul and its gateway are left as they are)`);
  }
  return { code, kept };
}

/** Registers the new and changed clusters, all at once; an unreachable one is reported, not fatal. */
async function register(
  plan: FleetPlan,
  desired: DesiredFleet,
  context: ApplyContext,
): Promise<{ code: ExitCode; failed: Set<string> }> {
  const { runtime, out } = context;
  const failed = new Set<string>();
  const steps = plan.clusters.filter((c) => c.action === 'register');
  if (steps.length === 0) return { code: EXIT.ok, failed };
  const byName = new Map(desired.clusters.map((c) => [c.name, c]));
  const registered = await mapBounded(steps, DEFAULT_CONCURRENCY, (step) => {
    const cluster = byName.get(step.name) as DesiredCluster;
    return registerCluster(
      runtime,
      {
        name: cluster.name,
        connection: cluster.connection,
        tokenSource: cluster.tokenSource,
        gateway: cluster.connection.gateway,
        check: true,
      },
      out,
    );
  });
  let code: ExitCode = EXIT.ok;
  const watched: Watched<Outcome>[] = [];
  for (const [i, result] of registered.entries()) {
    const name = steps[i]?.name ?? '';
    if (result.status === 'fulfilled') watched.push(watchOnboarding(runtime, result.value));
    else {
      failed.add(name);
      code = EXIT.failed;
      out.result(`${name}  not registered  ${messageOf(result.reason)}`);
    }
  }
  if (watched.length > 0) {
    const waited = await waitAndSummarise(watched, context);
    if (waited !== EXIT.ok) {
      // Which ones did not end onboarded is in the lines just printed; their peerings still get asked
      // for: the pipeline's accept step waits for (and names) a missing precondition itself.
      code = worse(code, waited);
    }
  }
  return { code, failed };
}

/** Requests the new peerings and those whose exports changed; skips those of a cluster not registered. */
async function request(plan: FleetPlan, skip: ReadonlySet<string>, context: ApplyContext): Promise<ExitCode> {
  const { runtime, out } = context;
  let code: ExitCode = EXIT.ok;
  const watched: Watched<Outcome>[] = [];
  for (const step of plan.peerings) {
    if (step.action === 'unchanged') continue;
    const blocked = [step.acceptor, step.dialer].find((name) => skip.has(name));
    if (blocked !== undefined) {
      out.result(`${step.acceptor} -> ${step.dialer}  skipped  cluster ${blocked} was not registered`);
      code = EXIT.failed;
      continue;
    }
    // The file's exports, also when empty: the wanted-peering record then says exactly what the file says.
    const event = peeringRequest(runtime, step, { exportServices: step.exportServices });
    await runtime.publish(event);
    watched.push(watchPeering(runtime, { event }, out));
  }
  if (watched.length === 0) return code;
  return worse(code, await waitAndSummarise(watched, context));
}

function timeoutOf(args: ParsedArgs, desired: DesiredFleet): number {
  const flag = args.string('timeout');
  const seconds =
    flag === undefined
      ? (desired.settings.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS)
      : fields.wholeNumber(flag, '--timeout', 1, 86_400, 'seconds');
  return seconds * 1000;
}

async function run(args: ParsedArgs, { out, env, signal }: CommandContext): Promise<ExitCode> {
  expectPositionals(args, [], '; the fleet file is given with -f FILE');
  const file = args.string('file');
  if (file === undefined)
    throw new UsageError('-f, --file: required (the fleet file, YAML or JSON)', 'apply');
  const dryRun = args.flag('dry-run');
  const json = args.flag('json');
  if (json && !dryRun) throw new UsageError('--json: only with --dry-run (the plan as JSON)', 'apply');

  const desired = await readFleetFile(file, env);
  for (const cluster of desired.clusters) {
    out.redact(cluster.connection.token);
    out.redact(cluster.connection.clientKey);
  }
  const chosen = backendChoice(args, env, dryRun ? {} : { onboard: true, accept: true });
  const filePrefix = desired.settings.secretPrefix;
  if (filePrefix !== undefined && args.has('secret-prefix') && chosen.secretPrefix !== filePrefix) {
    throw new UsageError(
      `--secret-prefix: "${chosen.secretPrefix}" differs from the file's settings.secretPrefix "${filePrefix}"; give one of them`,
      'apply',
    );
  }
  const backend = { ...chosen, secretPrefix: filePrefix ?? chosen.secretPrefix };
  const timeoutMs = timeoutOf(args, desired);

  const runtime = openRuntime({ backend, env, out });
  try {
    const plan = planFleet(desired, await readRecordedState(runtime), { prune: args.flag('prune') });
    if (json) {
      out.result(JSON.stringify(planJson(plan, file), null, 2));
    } else {
      out.result(`plan for ${file} (${runtime.description}, prefix ${runtime.settings.secretPrefix})`);
      for (const line of renderPlan(plan)) out.result(line);
    }
    if (plan.conflicts.length > 0) {
      throw new UsageError(
        `${plan.conflicts.length} peering(s) recorded the other way round (listed above); nothing was changed`,
        'apply',
      );
    }
    if (dryRun || countChanges(plan) === 0) return EXIT.ok;

    const context: ApplyContext = { runtime, out, timeoutMs, signal };
    const interrupted = (): boolean => signal?.aborted === true;
    const pruned = await prune(plan, context);
    if (interrupted()) return EXIT.interrupted;
    const registered = await register(plan, desired, context);
    if (interrupted()) return EXIT.interrupted;
    const requested = await request(plan, registered.failed, context);
    const code = worse(worse(pruned.code, registered.code), requested);
    out.result(code === EXIT.ok ? 'applied' : 'applied with failures (above); run apply again once fixed');
    return code;
  } finally {
    await runtime.close();
  }
}

export const apply: Command = {
  name: 'apply',
  summary: 'make a fleet file (clusters, peerings) true: plan, then register, peer, prune',
  help: HELP_TEXT,
  options: {
    ...HELP,
    file: { type: 'string', short: 'f' },
    'dry-run': { type: 'boolean' },
    prune: { type: 'boolean' },
    ...JSON_OUTPUT,
    ...BACKEND,
    ...WAIT,
    ...ONBOARD_QUEUE,
    ...ACCEPT_QUEUE,
  },
  run,
};
