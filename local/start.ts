/**
 * `npm start`: the pipeline's own handlers (onboard-cluster, accept-peering, dial-peering), run on this
 * machine against your Consul clusters. Reads a config file (see `--help`), checks everything before
 * touching anything, writes each cluster's connection secret, publishes `cluster.registered` per
 * cluster and `peering.requested` per peering, prints the events as they flow, and waits for every
 * peering's outcome. Exit codes: 0 all established, 1 any failed or timed out, 2 bad input.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConsulClient } from '#commons/consul/client';
import { ValidationError } from '#commons/errors';
import {
  createEvent,
  DEFAULT_GATEWAY_SERVICE_NAME,
  type EventOf,
  type PipelineEvent,
} from '#commons/events/index';
import { defaultSecretFilePath } from '#commons/local/file-secret-store';
import { clusterSecretName } from '#commons/naming';
import { DEFAULT_SETTINGS } from '#commons/workflows/context';
import { LocalPipeline } from './pipeline';
import { describeEvent, localLogger, progressHooks } from './progress';
import { DEFAULT_CONFIG_FILE, loadRunConfig, RunConfigError, type RunConfig } from './run-config';

const EXIT = { established: 0, failed: 1, badInput: 2, interrupted: 130 } as const;
const DEFAULT_TIMEOUT_SECONDS = 300;
const QUEUE_NAME_PREFIX = 'consul-peering-local';
/** Both backends: above the longest handler run (dial polls for ACTIVE for 15 s), as AWS advises. */
const VISIBILITY_TIMEOUT_SECONDS = 30;

const USAGE = `usage: npm start -- [--config FILE] [--aws] [--verbose] [--timeout SECONDS]

Peers your Consul clusters through mesh gateways with the pipeline's own handlers (onboard-cluster,
accept-peering, dial-peering), run on this machine. It checks the config and reaches every cluster
first (read-only), then writes each cluster's connection secret, publishes cluster.registered for
each cluster and peering.requested for each peering, prints the events as they flow, and waits
until every peering is established (ACTIVE on both sides) or has failed.

options
  --config FILE      the config file (default ./${DEFAULT_CONFIG_FILE})
  --aws              real SQS and Secrets Manager instead of in-process queues (see "backends")
  --verbose          also print the handlers' structured JSON logs
  --timeout SECONDS  how long to wait for all outcomes (default ${DEFAULT_TIMEOUT_SECONDS})
  -h, --help         this text

config file (JSON; examples/peering.config.json is a complete example)
  {
    "clusters": [
      { "name": "dc1", "address": "https://consul.dc1.example.com:8501",
        "tokenEnv": "CONSUL_TOKEN_DC1", "caFile": "certs/dc1-ca.pem",
        "gateway": { "lan": { "address": "10.1.0.10", "port": 8443 },
                     "wan": { "address": "203.0.113.10", "port": 8443 } } },
      { "name": "dc2", "address": "https://consul.dc2.example.com:8501",
        "tokenFile": "~/.config/consul/dc2.token", "caFile": "certs/dc2-ca.pem" }
    ],
    "peerings": [{ "acceptor": "dc1", "dialer": "dc2" }]
  }
  secretPrefix     optional, default "consul-peering": secrets are <prefix>/clusters/<name>, ...
  clusters[]       two or more; every one in at least one peering
    name           a DNS label (lowercase); it becomes the peer name on the other cluster
    address        Consul's HTTP(S) API: http(s)://host:port
    tokenFile      a file holding the ACL token, or
    tokenEnv       an environment variable holding it (exactly one of the two)
    caFile         optional: PEM of the CA that signed Consul's HTTPS certificate (https only)
    partition      optional: admin partition (Consul Enterprise only)
    gateway        optional: the mesh gateway for the automation to register,
                   {"serviceName"?, "lan": {"address", "port"}, "wan": {"address", "port"}}:
                   lan is where it listens inside the cluster, wan where peers reach it.
                   Omit it when a gateway named "${DEFAULT_GATEWAY_SERVICE_NAME}" is registered already.
  peerings[]       {"acceptor", "dialer"}: the acceptor generates the peering token, the dialer
                   uses it. Two different clusters; each pair once, in one direction.
  Relative paths are relative to the config file's directory; ~/ is your home directory.

tokens
  A token is never written in the config file: "tokenFile" names a file that holds just the token
  (keep it 0600), "tokenEnv" an environment variable. Each is read at start and stored, with the
  address, CA and gateway, in the cluster's connection secret {address, token, caCert?, partition?,
  gateway?}, which the handlers read. Events, progress lines and errors carry secret names, never
  token values.

backends
  default  in-process queues with SQS semantics (retries, delays, dead letters); secrets in a 0600
           file outside the repository: ${defaultSecretFilePath()}
           (follows $XDG_STATE_HOME)
  --aws    SQS queues ${QUEUE_NAME_PREFIX}-{onboard,accept,dial,outcomes,dead-letters} (created if
           missing) and Secrets Manager, with your usual AWS credentials and region (AWS_REGION,
           AWS_PROFILE). AWS_ENDPOINT_URL=http://127.0.0.1:PORT points both at moto or LocalStack.

exit codes
  0    every peering established
  1    a peering failed or timed out, or a cluster or AWS could not be reached
  2    bad input: unknown option, unreadable or invalid config, missing token or CA file
  130  interrupted (Ctrl-C)`;

class UsageError extends Error {}

interface Cli {
  help: boolean;
  config: string;
  aws: boolean;
  verbose: boolean;
  timeoutSeconds: number;
}

function parseCli(argv: string[]): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        aws: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        timeout: { type: 'string', short: 't' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    // Node's messages go on about '--' for positionals; the first sentence says what is wrong.
    throw new UsageError((error instanceof Error ? error.message : String(error)).split(/\.\s/)[0] ?? '');
  }
  const { values } = parsed;
  const timeout = values.timeout ?? String(DEFAULT_TIMEOUT_SECONDS);
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 86_400) {
    throw new UsageError(`--timeout: expected a whole number of seconds, 1-86400, got "${timeout}"`);
  }
  if (values.config === '') throw new UsageError('--config: expected a file path');
  return {
    help: values.help === true,
    config: values.config ?? DEFAULT_CONFIG_FILE,
    aws: values.aws === true,
    verbose: values.verbose === true,
    timeoutSeconds: Number(timeout),
  };
}

const started = Date.now();
const step = (text: string): void => {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${text}`);
};
const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

type Result =
  | { status: 'established'; peeringId: string; states: string }
  | { status: 'failed'; reason: string; message: string }
  | { status: 'timed out' | 'interrupted' };

interface Request {
  acceptor: string;
  dialer: string;
  event: EventOf<'peering.requested'>;
}

/**
 * Waits for every request's outcome event. A record a handler dead-letters with a request's
 * correlation id fails that request at once (accept-peering's permanent refusals emit no outcome
 * event), and a dead-lettered `cluster.registered` fails every request involving that cluster.
 */
async function waitForOutcomes(
  pipeline: LocalPipeline,
  requests: readonly Request[],
  registrations: ReadonlyMap<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Map<Request, Result>> {
  const results = new Map<Request, Result>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const outcome of pipeline.outcomes()) {
      const request = requests.find((r) => r.event.correlationId === outcome.correlationId);
      if (request === undefined || results.has(request)) continue;
      results.set(
        request,
        outcome.type === 'peering.established'
          ? {
              status: 'established',
              peeringId: outcome.data.peeringId,
              states: `${outcome.data.acceptor.name} ${outcome.data.acceptorState} / ${outcome.data.dialer.name} ${outcome.data.dialerState}`,
            }
          : { status: 'failed', reason: outcome.data.reason, message: outcome.data.message },
      );
    }
    for (const { correlationId, reason, error } of pipeline.deadLettered()) {
      const cluster = correlationId === undefined ? undefined : registrations.get(correlationId);
      for (const request of requests) {
        if (results.has(request)) continue;
        if (request.event.correlationId === correlationId) {
          results.set(request, { status: 'failed', reason, message: error });
        } else if (cluster !== undefined && (request.acceptor === cluster || request.dialer === cluster)) {
          results.set(request, {
            status: 'failed',
            reason: `onboarding-failed`,
            message: `${cluster}: ${reason}: ${error}`,
          });
        }
      }
    }
    if (results.size === requests.length) return results;
    if (signal.aborted || Date.now() >= deadline) {
      const status = signal.aborted ? 'interrupted' : 'timed out';
      for (const request of requests) if (!results.has(request)) results.set(request, { status });
      return results;
    }
    await new Promise((wake) => setTimeout(wake, 500));
  }
}

async function main(argv: string[]): Promise<number> {
  let cli: Cli;
  try {
    cli = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`npm start: ${error.message}\nrun \`npm start -- --help\` for usage`);
    return EXIT.badInput;
  }
  if (cli.help) {
    console.log(USAGE);
    return EXIT.established;
  }
  // The handlers' JSON logs only with --verbose; retries and dead letters are progress lines anyway.
  process.env.LOG_LEVEL ??= cli.verbose ? 'INFO' : 'SILENT';

  // 1. Everything is checked before anything is touched: the config, the tokens and CA files, the
  //    events and the clients (no I/O yet beyond reading local files).
  let config: RunConfig;
  try {
    config = await loadRunConfig(cli.config);
  } catch (error) {
    if (!(error instanceof RunConfigError)) throw error;
    console.error(error.message);
    if (error.problems.some((p) => p.path === '' && p.message.includes('no such file'))) {
      console.error(
        `\ncopy examples/peering.config.json to ./${DEFAULT_CONFIG_FILE} and edit it, or pass --config FILE (npm start -- --help)`,
      );
    }
    return EXIT.badInput;
  }
  const { secretPrefix } = config;
  const ref = (name: string) => ({ name, connectionSecret: clusterSecretName(secretPrefix, name) });
  const registrations = new Map<string, string>(); // correlation id → cluster
  let events: EventOf<'cluster.registered'>[];
  let requests: Request[];
  const clients = new Map<string, ConsulClient>();
  try {
    events = config.clusters.map((cluster) => {
      const event = createEvent(
        'cluster.registered',
        {
          cluster: ref(cluster.name),
          ...(cluster.gateway === undefined ? {} : { gateway: cluster.gateway }),
        },
        { correlationId: randomUUID() },
      );
      registrations.set(event.correlationId, cluster.name);
      return event;
    });
    requests = config.peerings.map(({ acceptor, dialer }) => ({
      acceptor,
      dialer,
      event: createEvent(
        'peering.requested',
        { acceptor: ref(acceptor), dialer: ref(dialer) },
        { correlationId: randomUUID() },
      ),
    }));
    for (const cluster of config.clusters) {
      try {
        clients.set(cluster.name, new ConsulClient({ ...cluster.connection, timeoutMs: 10_000 }));
      } catch (error) {
        throw new ValidationError(`cluster "${cluster.name}": ${errorMessage(error)}`);
      }
    }
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    console.error(`${resolve(cli.config)}: ${error.message}`);
    return EXIT.badInput;
  }
  const closeClients = () => Promise.all([...clients.values()].map((c) => c.close()));

  step(
    `config ${resolve(cli.config)}: ${config.clusters.length} clusters, ${config.peerings.length} peering(s), secret prefix "${secretPrefix}"`,
  );
  for (const cluster of config.clusters) {
    const name = cluster.gateway?.serviceName;
    if (name !== undefined && name !== DEFAULT_GATEWAY_SERVICE_NAME) {
      step(
        `note: ${cluster.name}'s gateway is "${name}", but accept-peering and dial-peering check for a passing gateway named "${DEFAULT_GATEWAY_SERVICE_NAME}"`,
      );
    }
  }

  // 2. Reach every cluster (read-only): leader, Connect CA, and a read the token must be allowed.
  const checks = await Promise.allSettled(
    config.clusters.map(async (cluster) => {
      const client = clients.get(cluster.name) as ConsulClient;
      const ready = await client.waitUntilReady({ timeoutMs: 15_000 });
      const peerings = await client.listPeerings();
      const others = peerings.map((p) => `${p.name} ${p.state}`).join(', ');
      return `${cluster.name.padEnd(12)} ${cluster.connection.address} leader ${ready.leader}, token from ${cluster.tokenSource}, peerings: ${others === '' ? 'none' : others}`;
    }),
  );
  let reachable = true;
  for (const [i, check] of checks.entries()) {
    if (check.status === 'fulfilled') {
      step(`reached ${check.value}`);
      continue;
    }
    reachable = false;
    const cluster = config.clusters[i];
    console.error(
      `cannot use cluster "${cluster?.name ?? i}" (${cluster?.connection.address ?? '?'}): ${errorMessage(check.reason)}`,
    );
  }
  await closeClients();
  if (!reachable) return EXIT.failed;

  // 3. The pipeline: the same handlers as in Lambda, on in-process queues or on SQS.
  const settings = { ...DEFAULT_SETTINGS, secretPrefix };
  const pipelineOptions = {
    settings,
    logger: localLogger('local-start', cli.verbose),
    hooks: progressHooks({ progress: step }),
    onEvent: (event: PipelineEvent) => {
      step(describeEvent(event));
    },
  };
  let pipeline: LocalPipeline;
  if (cli.aws) {
    try {
      pipeline = await LocalPipeline.aws({
        ...pipelineOptions,
        queueNamePrefix: QUEUE_NAME_PREFIX,
        visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      });
    } catch (error) {
      console.error(
        `--aws: cannot set up the SQS queues: ${errorMessage(error)}\n` +
          'check your AWS credentials and AWS_REGION; for moto or LocalStack set AWS_ENDPOINT_URL=http://127.0.0.1:PORT',
      );
      return EXIT.failed;
    }
    const endpoint = process.env.AWS_ENDPOINT_URL;
    step(
      `pipeline on SQS (${QUEUE_NAME_PREFIX}-*) and Secrets Manager${endpoint === undefined ? '' : ` at ${endpoint}`}`,
    );
  } else {
    pipeline = LocalPipeline.inProcess({
      ...pipelineOptions,
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
    });
    step(`pipeline on in-process queues; secrets in ${defaultSecretFilePath()} (0600)`);
  }

  const interrupt = new AbortController();
  let interruptedAt = 0;
  const onSigint = (): void => {
    // One Ctrl-C can arrive twice (the terminal signals the whole group, and npm and tsx relay it).
    if (interrupt.signal.aborted) {
      if (Date.now() - interruptedAt > 1_000) process.exit(EXIT.interrupted);
      return;
    }
    interruptedAt = Date.now();
    step('interrupted; stopping (Ctrl-C again to quit at once)');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    // 4. Connection secrets, then the events: the handlers take it from here.
    for (const cluster of config.clusters) {
      const name = clusterSecretName(secretPrefix, cluster.name);
      const { changed } = await pipeline.secrets.put(name, JSON.stringify(cluster.connection), {
        description: `Consul connection of cluster ${cluster.name} (address, ACL token, CA) for consul-peering-automation`,
      });
      step(`secret ${name} ${changed ? 'written' : 'unchanged'} (token from ${cluster.tokenSource})`);
    }
    pipeline.start();
    for (const event of events) await pipeline.publish(event);
    for (const request of requests) await pipeline.publish(request.event);
    step(`waiting for ${requests.length} peering(s) to be established (timeout ${cli.timeoutSeconds} s)`);
    const results = await waitForOutcomes(
      pipeline,
      requests,
      registrations,
      cli.timeoutSeconds * 1000,
      interrupt.signal,
    );

    // 5. Summary.
    console.log('\nsummary');
    const width = Math.max(...requests.map((r) => `${r.acceptor} accepts, ${r.dialer} dials`.length));
    for (const request of requests) {
      const result = results.get(request) ?? { status: 'timed out' };
      const detail =
        result.status === 'established'
          ? `${result.states}, peering id ${result.peeringId}`
          : result.status === 'failed'
            ? `${result.reason}: ${result.message}`
            : result.status === 'timed out'
              ? `no outcome within ${cli.timeoutSeconds} s (see the retries above; --verbose shows the handlers' logs)`
              : 'stopped before an outcome';
      console.log(
        `  ${`${request.acceptor} accepts, ${request.dialer} dials`.padEnd(width)}  ${result.status.padEnd(11)}  ${detail}`,
      );
    }
    const deadLetters = pipeline.deadLettered().length;
    console.log(
      `  ${'dead letters'.padEnd(width)}  ${deadLetters}${cli.aws ? ` (queue ${QUEUE_NAME_PREFIX}-dead-letters, earlier runs included)` : ''}`,
    );
    console.log(`  ${'total time'.padEnd(width)}  ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (interrupt.signal.aborted) return EXIT.interrupted;
    return [...results.values()].every((r) => r.status === 'established') ? EXIT.established : EXIT.failed;
  } finally {
    process.off('SIGINT', onSigint);
    await pipeline.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`npm start failed: ${errorMessage(error)}`);
    process.exit(EXIT.failed);
  },
);
