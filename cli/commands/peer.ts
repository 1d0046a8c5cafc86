import { clusterSecretName, peeringRecordSecretName, peeringTokenSecretName } from '#commons/naming';
import { expectPositionals, type ParsedArgs } from '../args';
import type { Command, CommandContext } from '../command';
import { UsageError } from '../errors';
import type { ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP, EXIT_CODES_HELP, WAIT_HELP } from '../help-text';
import { ACCEPT_QUEUE, BACKEND, backendChoice, HELP, WAIT, waitChoice } from '../options';
import { peeringRequest, publishPeeringRequests, type PeeringRequest } from '../requests';
import { openRuntime, type Runtime } from '../runtime';

const EXPORT_HELP = `  --export SVC         a service the acceptor exports to the dialer; repeat it or separate with
                       commas. Merged into the acceptor's exported-services entry (nothing is removed)
                       and recorded in the wanted peering <prefix>/peerings/<acceptor>/<dialer>.`;
const QUEUE_HELP = `  --accept-queue-url URL  with --aws: the accept-peering queue (default $ACCEPT_QUEUE_URL)`;

const PEER_HELP = `usage: peerctl peer <acceptor> <dialer> [--export SVC ...] [options]

Requests a peering: publishes peering.requested. accept-peering checks both clusters, generates a
peering token on the acceptor (only when no usable one exists) and records the wanted peering;
dial-peering establishes it on the dialer, through both mesh gateways, until ACTIVE on both sides.
Both clusters must be registered (peerctl cluster add). Asking again for an existing peering is safe.

  <acceptor>           the cluster that generates the peering token
  <dialer>             the cluster that establishes the peering with it
${EXPORT_HELP}
${QUEUE_HELP}

${BACKEND_HELP}

${WAIT_HELP}
  Waiting means: locally, peering.established or peering.failed of this request; with --aws, both
  sides ACTIVE in Consul (and the exports in place).

examples
  peerctl peer dc1 dc2 --export web --export api
  peerctl peer dc1 dc2 --export web,api --aws --wait --timeout 600

${EXIT_CODES_HELP}`;

const MESH_HELP = `usage: peerctl mesh <cluster> <cluster> [<cluster> ...] [--export SVC ...] [options]

Peers every pair of the given clusters (a full mesh): one peering.requested per pair, all waited for
together. In each pair the name that sorts first (byte order) accepts and the other dials, so the
same command always makes the same choices; a pair already recorded the other way round (peerctl
peer) keeps its direction. --export applies to every pair: each acceptor exports the services to
its dialer.

${EXPORT_HELP}
${QUEUE_HELP}

${BACKEND_HELP}

${WAIT_HELP}

examples
  peerctl mesh dc1 dc2 dc3              # dc1 accepts from dc2 and dc3, dc2 accepts from dc3
  peerctl mesh eu us ap --export web --aws --wait

${EXIT_CODES_HELP}`;

const REGENERATE_HELP = `usage: peerctl regenerate <acceptor> <dialer> [options]

Issues a new peering token for an existing peering: publishes peering.requested with
regenerateToken. The acceptor generates a new token (the old one becomes invalid; the live stream is
kept) and the dialer re-establishes in place with it. Use it after a token leaked, or when a peering
is stuck PENDING. The peering must have been requested in this direction.

${QUEUE_HELP}

${BACKEND_HELP}

${WAIT_HELP}
  With --aws --wait: both sides ACTIVE and the dialer established with the new token's version.

examples
  peerctl regenerate dc1 dc2
  peerctl regenerate dc1 dc2 --aws --wait

${EXIT_CODES_HELP}`;

type Pair = { acceptor: string; dialer: string };

/**
 * Every pair of `names` once. The name that sorts first (byte order, so the choice never depends on
 * the locale or on the order given) accepts, unless the pair is recorded the other way round already:
 * then that direction is kept, since a peer name is either accepted or dialed on a cluster, not both.
 */
export async function meshPairs(
  names: readonly string[],
  isRecorded: (acceptor: string, dialer: string) => Promise<boolean>,
): Promise<(Pair & { kept: boolean })[]> {
  const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const pairs: (Pair & { kept: boolean })[] = [];
  for (const [i, first] of sorted.entries()) {
    for (const second of sorted.slice(i + 1)) {
      const kept = await isRecorded(second, first);
      pairs.push(
        kept ? { acceptor: second, dialer: first, kept } : { acceptor: first, dialer: second, kept },
      );
    }
  }
  return pairs;
}

/** Both clusters are registered, and the pair is not already wanted the other way round. */
async function checkPair(runtime: Runtime, pair: Pair, command: string): Promise<'recorded' | 'new'> {
  const prefix = runtime.settings.secretPrefix;
  for (const cluster of [pair.acceptor, pair.dialer]) {
    if (!(await exists(runtime, clusterSecretName(prefix, cluster)))) {
      throw new UsageError(
        `unknown cluster "${cluster}": there is no connection secret ${clusterSecretName(prefix, cluster)}; register it first (peerctl cluster add ${cluster} --address ...)`,
        command,
      );
    }
  }
  if (await recorded(runtime, pair.dialer, pair.acceptor)) {
    throw new UsageError(
      `"${pair.dialer}" and "${pair.acceptor}" are already peered the other way round (${pair.dialer} accepts, ${pair.acceptor} dials): run "peerctl ${command} ${pair.dialer} ${pair.acceptor}", or "peerctl unpeer ${pair.acceptor} ${pair.dialer}" first`,
      command,
    );
  }
  return (await recorded(runtime, pair.acceptor, pair.dialer)) ? 'recorded' : 'new';
}

/** Listed, not read: only whether the secret exists matters (a connection secret holds a token). */
async function exists(runtime: Runtime, name: string): Promise<boolean> {
  return (await runtime.secrets.list({ namePrefix: name })).some((s) => s.name === name);
}

const recorded = (runtime: Runtime, acceptor: string, dialer: string): Promise<boolean> =>
  exists(runtime, peeringRecordSecretName(runtime.settings.secretPrefix, acceptor, dialer));

function exportsOf(args: ParsedArgs): string[] | undefined {
  const given = args.list('export');
  return given.length === 0 ? undefined : fields.serviceNames(given);
}

const SEVERAL_EXPORTS = '; to export several services repeat --export or separate them with commas';

async function request(
  args: ParsedArgs,
  context: CommandContext,
  pairsOf: (runtime: Runtime) => Promise<Pair[]>,
  options: { exportServices?: string[] | undefined; regenerateToken?: boolean },
): Promise<ExitCode> {
  const { out, env, signal } = context;
  const backend = backendChoice(args, env, { accept: true });
  const waiting = waitChoice(args, backend);
  const runtime = openRuntime({ backend, env, out });
  try {
    const pairs = await pairsOf(runtime);
    const requests: PeeringRequest[] = [];
    for (const pair of pairs) {
      const previous =
        options.regenerateToken === true
          ? await runtime.secrets.get(
              peeringTokenSecretName(runtime.settings.secretPrefix, pair.acceptor, pair.dialer),
            )
          : undefined;
      out.redact(previous?.value);
      requests.push({
        event: peeringRequest(runtime, pair, options),
        previousTokenVersion: previous?.versionId,
      });
    }
    out.progress(runtime.description);
    return await publishPeeringRequests(requests, waiting.wait, {
      runtime,
      out,
      timeoutMs: waiting.timeoutMs,
      signal,
    });
  } finally {
    await runtime.close();
  }
}

function pairOf(args: ParsedArgs, hint = ''): Pair {
  const [acceptor = '', dialer = ''] = expectPositionals(args, ['<acceptor>', '<dialer>'], hint);
  fields.clusterName(acceptor, '<acceptor>');
  fields.clusterName(dialer, '<dialer>');
  if (acceptor === dialer)
    throw new UsageError(
      `<dialer>: "${dialer}" is also the acceptor; a cluster cannot peer with itself`,
      args.command,
    );
  return { acceptor, dialer };
}

export const peer: Command = {
  name: 'peer',
  summary: 'request a peering: <acceptor> generates the token, <dialer> establishes',
  help: PEER_HELP,
  options: {
    ...HELP,
    export: { type: 'string', multiple: true, short: 'e' },
    ...BACKEND,
    ...WAIT,
    ...ACCEPT_QUEUE,
  },
  run: (args, context) => {
    const pair = pairOf(args, SEVERAL_EXPORTS);
    const exportServices = exportsOf(args);
    return request(
      args,
      context,
      async (runtime) => {
        await checkPair(runtime, pair, 'peer');
        return [pair];
      },
      { exportServices },
    );
  },
};

export const mesh: Command = {
  name: 'mesh',
  summary: 'peer every pair of the given clusters (the name that sorts first accepts)',
  help: MESH_HELP,
  options: {
    ...HELP,
    export: { type: 'string', multiple: true, short: 'e' },
    ...BACKEND,
    ...WAIT,
    ...ACCEPT_QUEUE,
  },
  run: (args, context) => {
    const names = args.positionals.map((name, i) => fields.clusterName(name, `<cluster> #${i + 1}`));
    if (names.length < 2) throw new UsageError('expected at least two clusters', args.command);
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate !== undefined)
      throw new UsageError(`<cluster>: "${duplicate}" is given twice`, args.command);
    const exportServices = exportsOf(args);
    return request(
      args,
      context,
      async (runtime) => {
        const pairs = await meshPairs(names, (acceptor, dialer) => recorded(runtime, acceptor, dialer));
        for (const pair of pairs) {
          await checkPair(runtime, pair, 'mesh');
          context.out.progress(
            `${pair.acceptor} accepts, ${pair.dialer} dials${pair.kept ? ' (recorded that way already)' : ''}`,
          );
        }
        return pairs;
      },
      { exportServices },
    );
  },
};

export const regenerate: Command = {
  name: 'regenerate',
  summary: 'issue a new peering token; the dialer re-establishes in place',
  help: REGENERATE_HELP,
  options: { ...HELP, ...BACKEND, ...WAIT, ...ACCEPT_QUEUE },
  run: (args, context) => {
    const pair = pairOf(args);
    return request(
      args,
      context,
      async (runtime) => {
        if ((await checkPair(runtime, pair, 'regenerate')) === 'new') {
          throw new UsageError(
            `no peering ${pair.acceptor} -> ${pair.dialer} was requested (no ${peeringRecordSecretName(runtime.settings.secretPrefix, pair.acceptor, pair.dialer)}); request it with "peerctl peer ${pair.acceptor} ${pair.dialer}"`,
            'regenerate',
          );
        }
        return [pair];
      },
      { regenerateToken: true },
    );
  },
};
