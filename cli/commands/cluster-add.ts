import { ClusterConnectionSchema, type ClusterConnection } from '#commons/clusters';
import { createEvent, type MeshGateway } from '#commons/events/index';
import { clusterSecretName, TAG_KIND } from '#commons/naming';
import type { SecretStore } from '#commons/ports/secret-store';
import * as z from 'zod/mini';
import { expectPositionals, type ParsedArgs } from '../args';
import type { Command, CommandContext } from '../command';
import { describeOnboarding, readOnboardingState } from '../cluster-state';
import { messageOf, OperationError, UsageError } from '../errors';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP, EXIT_CODES_HELP, WAIT_HELP } from '../help-text';
import { BACKEND, backendChoice, HELP, ONBOARD_QUEUE, WAIT, waitChoice } from '../options';
import {
  clusterRef,
  newCorrelationId,
  waitAndSummarise,
  watchOnboarding,
  type Registration,
} from '../requests';
import { consulClientFor, openRuntime, type Runtime } from '../runtime';

/** Consul's own variable for the CLI's token: the default when neither --token-file nor --token-env is given. */
const DEFAULT_TOKEN_ENV = 'CONSUL_HTTP_TOKEN';

const HELP_TEXT = `usage: peerctl cluster add <name> --address URL [--token-file FILE | --token-env VAR] [--ca-file FILE]
                          [--client-cert-file FILE --client-key-file FILE]
                          [--gateway-lan HOST:PORT --gateway-wan HOST:PORT] [--partition P] [options]

Registers a Consul cluster for peering: checks that Consul answers with the token (read-only), stores
the connection secret <prefix>/clusters/<name> = {address, token, caCert?, clientCert?, clientKey?,
partition?, gateway?}, and
publishes cluster.registered. The onboard-cluster function then creates the mesh gateway's ACL token,
registers the gateway (when its addresses are given), sets Peering.PeerThroughMeshGateways in the mesh
config entry, and waits for a passing gateway. Re-running it is safe (every step is an ensure).

  <name>                   the cluster's name, a DNS label; it becomes the peer name on other clusters
  --address URL            Consul's HTTP(S) API, http(s)://host:port
  --token-file FILE        a file holding the automation's ACL token, or
  --token-env VAR          an environment variable holding it (default: ${DEFAULT_TOKEN_ENV})
                           A token is never a flag value: it would stay in shell history.
  --ca-file FILE           PEM of the CA that signed Consul's HTTPS certificate (https only)
  --client-cert-file FILE  PEM client certificate, for an agent with verify_incoming on HTTPS, and
  --client-key-file FILE   its private key (unencrypted PEM). Both or neither, https only. The key
                           is kept only in the connection secret, never printed or logged.
  --gateway-lan HOST:PORT  where the mesh gateway listens inside the cluster, and
  --gateway-wan HOST:PORT  where peers reach it (what peering tokens carry). Both or neither: omit
                           them when a gateway "mesh-gateway" is registered already.
  --partition P            admin partition (Consul Enterprise only)
  --no-check               do not contact Consul before storing (with --aws, when only the Lambda
                           functions can reach it)
  --onboard-queue-url URL  with --aws: the onboard-cluster queue (default $ONBOARD_QUEUE_URL)

${BACKEND_HELP}

${WAIT_HELP}
  Waiting means: the gateway token is in Consul, the gateway passes its checks (at the given
  addresses), and the mesh flag is on. Locally, a dead-lettered registration fails at once.

examples
  peerctl cluster add dc1 --address https://consul.dc1.example.com:8501 --ca-file dc1-ca.pem \\
      --client-cert-file dc1-client.pem --client-key-file dc1-client-key.pem \\
      --token-file ~/.config/consul/dc1.token \\
      --gateway-lan 10.1.0.10:8443 --gateway-wan 203.0.113.10:8443
  CONSUL_TOKEN_DC2=... peerctl cluster add dc2 --address http://10.2.0.5:8500 --token-env CONSUL_TOKEN_DC2
  peerctl cluster add dc3 --address https://consul.dc3:8501 --token-file dc3.token --aws --wait \\
      --onboard-queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/consul-peering-onboard

${EXIT_CODES_HELP}`;

export interface ClusterAddPlan {
  name: string;
  connection: ClusterConnection;
  tokenSource: string;
  gateway: MeshGateway | undefined;
  check: boolean;
}

async function parse(args: ParsedArgs, env: NodeJS.ProcessEnv): Promise<ClusterAddPlan> {
  const [rawName = ''] = expectPositionals(args, ['<name>']);
  const name = fields.clusterName(rawName, '<name>');
  const rawAddress = args.string('address');
  if (rawAddress === undefined)
    throw new UsageError("--address: required (Consul's API, http(s)://host:port)", args.command);
  const address = fields.consulAddress(rawAddress);
  const tokenFile = args.string('token-file');
  const tokenEnv = args.string('token-env');
  if (tokenFile !== undefined && tokenEnv !== undefined)
    throw new UsageError('--token-file, --token-env: give only one of them', args.command);
  const caFile = args.string('ca-file');
  if (caFile !== undefined && !address.startsWith('https://'))
    throw new UsageError('--ca-file: only used with an https:// --address', args.command);
  const clientCertFile = args.string('client-cert-file');
  const clientKeyFile = args.string('client-key-file');
  if ((clientCertFile === undefined) !== (clientKeyFile === undefined)) {
    const [missing, given] =
      clientCertFile === undefined
        ? ['--client-cert-file', '--client-key-file']
        : ['--client-key-file', '--client-cert-file'];
    throw new UsageError(
      `${missing}: required with ${given} (a client certificate and its key go together)`,
      args.command,
    );
  }
  if (clientCertFile !== undefined && !address.startsWith('https://'))
    throw new UsageError('--client-cert-file: only used with an https:// --address', args.command);
  const lan = args.string('gateway-lan');
  const wan = args.string('gateway-wan');
  if ((lan === undefined) !== (wan === undefined)) {
    throw new UsageError(
      `${lan === undefined ? '--gateway-lan' : '--gateway-wan'}: required with ${lan === undefined ? '--gateway-wan' : '--gateway-lan'} (give both addresses of the gateway, or neither)`,
      args.command,
    );
  }
  const gateway =
    lan === undefined || wan === undefined
      ? undefined
      : { lan: fields.hostPort(lan, '--gateway-lan'), wan: fields.hostPort(wan, '--gateway-wan') };
  const rawPartition = args.string('partition');
  const partition = rawPartition === undefined ? undefined : fields.partition(rawPartition);

  // Files and variables last: the flags' shapes are all known good by now.
  const token =
    tokenFile !== undefined
      ? await fields.readTokenFile(tokenFile)
      : fields.readTokenEnv(
          tokenEnv ?? DEFAULT_TOKEN_ENV,
          env,
          tokenEnv === undefined ? `--token-env (default ${DEFAULT_TOKEN_ENV})` : '--token-env',
        );
  const caCert = caFile === undefined ? undefined : await fields.readCaFile(caFile);
  const clientCertificate =
    clientCertFile === undefined || clientKeyFile === undefined
      ? undefined
      : await fields.readClientCertificate(clientCertFile, clientKeyFile);
  const parsed = z.safeParse(ClusterConnectionSchema, {
    address,
    token,
    ...(caCert === undefined ? {} : { caCert }),
    ...clientCertificate,
    ...(partition === undefined ? {} : { partition }),
    ...(gateway === undefined ? {} : { gateway }),
  });
  if (!parsed.success) {
    // The checks above are stricter than the secret's schema; this only guards against them drifting apart.
    const field = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new UsageError(`would make an invalid connection secret (at "${field}")`, args.command);
  }
  return {
    name,
    connection: parsed.data,
    tokenSource:
      tokenFile !== undefined
        ? `file ${fields.expandPath(tokenFile)}`
        : `env ${tokenEnv ?? DEFAULT_TOKEN_ENV}`,
    gateway: parsed.data.gateway,
    check: !args.flag('no-check'),
  };
}

async function run(args: ParsedArgs, { out, env, signal }: CommandContext): Promise<ExitCode> {
  const plan = await parse(args, env);
  const backend = backendChoice(args, env, { onboard: true });
  const waiting = waitChoice(args, backend);
  out.redact(plan.connection.token);
  if (plan.connection.clientKey !== undefined) out.redact(plan.connection.clientKey);
  const runtime = openRuntime({ backend, env, out });
  try {
    out.progress(runtime.description);
    const { event } = await registerCluster(runtime, plan, out);
    if (!waiting.wait) {
      out.result(`${plan.name}  published  cluster.registered, correlation id ${event.correlationId}`);
      out.result(`follow with: peerctl status ${plan.name} --aws (or add --wait)`);
      return EXIT.ok;
    }
    return await waitAndSummarise([watchOnboarding(runtime, { event, gateway: plan.gateway })], {
      runtime,
      out,
      timeoutMs: waiting.timeoutMs,
      signal,
    });
  } finally {
    await runtime.close();
  }
}

/**
 * One cluster's registration, as `cluster add` and `apply` make it: Consul checked first (read-only,
 * unless `check` is off; an unreachable cluster stores nothing), then the connection secret, then
 * cluster.registered. Returns what to watch for the onboarding's end.
 */
export async function registerCluster(
  runtime: Runtime,
  plan: ClusterAddPlan,
  out: CommandContext['out'],
): Promise<Registration> {
  const event = createEvent(
    'cluster.registered',
    {
      cluster: clusterRef(runtime, plan.name),
      ...(plan.gateway === undefined ? {} : { gateway: plan.gateway }),
    },
    { correlationId: newCorrelationId() },
  );
  if (plan.check) await checkReachable(plan, runtime.secrets, runtime.settings.secretPrefix, out);
  const secretName = clusterSecretName(runtime.settings.secretPrefix, plan.name);
  const { changed } = await runtime.secrets.put(secretName, JSON.stringify(plan.connection), {
    description: `Consul connection of cluster ${plan.name} (address, ACL token, CA) for consul-peering-automation`,
    tags: { [TAG_KIND]: 'cluster' },
  });
  out.progress(`secret ${secretName} ${changed ? 'written' : 'unchanged'} (token from ${plan.tokenSource})`);
  await runtime.publish(event);
  return { event, gateway: plan.gateway };
}

/** Read-only: the leader, and what the token can read, before anything is stored. */
async function checkReachable(
  plan: ClusterAddPlan,
  secrets: SecretStore,
  secretPrefix: string,
  out: CommandContext['out'],
): Promise<void> {
  const client = consulClientFor(plan.connection);
  try {
    const leader = await client.leader();
    const state = await readOnboardingState(client, secrets, { secretPrefix, cluster: plan.name });
    out.progress(
      `reached ${plan.name} at ${plan.connection.address}: leader ${leader || 'none yet'}, ${state.peerings} peering(s), ${describeOnboarding(state)}`,
    );
  } catch (error) {
    throw new OperationError(
      `cannot use cluster "${plan.name}" at ${plan.connection.address} (nothing was stored): ${messageOf(error)}`,
    );
  } finally {
    await client.close();
  }
}

export const clusterAdd: Command = {
  name: 'cluster add',
  summary: 'register a cluster: store its connection secret, publish cluster.registered',
  help: HELP_TEXT,
  options: {
    ...HELP,
    address: { type: 'string', short: 'a' },
    'token-file': { type: 'string' },
    'token-env': { type: 'string' },
    'ca-file': { type: 'string' },
    'client-cert-file': { type: 'string' },
    'client-key-file': { type: 'string' },
    'gateway-lan': { type: 'string' },
    'gateway-wan': { type: 'string' },
    partition: { type: 'string' },
    'no-check': { type: 'boolean' },
    ...BACKEND,
    ...WAIT,
    ...ONBOARD_QUEUE,
  },
  run,
};
