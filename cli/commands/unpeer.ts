import { peeringRecordSecretName, peeringTokenSecretName } from '#commons/naming';
import { systemClock } from '#commons/ports/clock';
import { pairLockOf, withPairLock } from '#commons/workflows/pair-lock';
import { expectPositionals, type ParsedArgs } from '../args';
import type { Command, CommandContext } from '../command';
import { UsageError } from '../errors';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP } from '../help-text';
import { BACKEND, backendChoice, DEFAULT_TIMEOUT_SECONDS, HELP } from '../options';
import { openRuntime, type Runtime } from '../runtime';
import { waitForAll, type Watched } from '../wait';

const HELP_TEXT = `usage: peerctl unpeer <cluster> <cluster> [--timeout SECS] [options]

Deletes the peering between two clusters, whichever accepted: DELETE /v1/peering on both sides, then
waits until each side's record is gone (or TERMINATED: the peer deleted its side), then deletes the
peering-token secret and the wanted-peering record (both directions), so a drift scan does not bring
it back. Idempotent: unpeering what is not peered succeeds. The services the acceptor exported to
the peer stay in its exported-services entry (they are harmless without the peering).
If a side cannot be deleted (unreachable, timeout), the secrets are kept: run it again.

  --timeout SECS       how long to wait for both sides (default ${DEFAULT_TIMEOUT_SECONDS})

${BACKEND_HELP}

examples
  peerctl unpeer dc1 dc2
  peerctl unpeer dc1 dc2 --aws

exit codes
  0  deleted (or nothing to delete)   1  a side could not be deleted in time   2  bad input`;

/** Deletes one side and watches it go. A TERMINATED record is deleted too, and counts as done. */
function deleteSide(runtime: Runtime, cluster: string, peer: string): Watched<string> {
  let requested = false;
  let terminatedDeleteSent = false;
  return {
    label: `${cluster}: peering "${peer}"`,
    probe: async () => {
      const consul = await runtime.consul(cluster);
      const peering = await consul.readPeering(peer);
      if (peering === undefined) return { done: requested ? 'deleted' : 'already absent' };
      if (!requested) {
        await consul.deletePeering(peer);
        requested = true;
        return { state: `${peering.state}, deletion requested` };
      }
      if (peering.state === 'TERMINATED') {
        // Consul keeps a TERMINATED record until someone deletes it; ask once more, then it is done.
        if (!terminatedDeleteSent) await consul.deletePeering(peer);
        terminatedDeleteSent = true;
        return { done: 'terminated, deletion requested' };
      }
      return { state: peering.state };
    },
  };
}

async function run(args: ParsedArgs, { out, env, signal }: CommandContext): Promise<ExitCode> {
  const [a = '', b = ''] = expectPositionals(args, ['<cluster>', '<cluster>']);
  fields.clusterName(a, '<cluster> #1');
  fields.clusterName(b, '<cluster> #2');
  if (a === b)
    throw new UsageError(`<cluster> #2: "${b}" is also #1; a cluster is never peered with itself`, 'unpeer');
  const timeout = args.string('timeout');
  const timeoutMs =
    (timeout === undefined
      ? DEFAULT_TIMEOUT_SECONDS
      : fields.wholeNumber(timeout, '--timeout', 1, 86_400, 'seconds')) * 1000;
  const backend = backendChoice(args, env);
  const runtime = openRuntime({ backend, env, out });
  try {
    // Both connections first: an unknown cluster is bad input, found before anything is deleted.
    await runtime.connection(a);
    await runtime.connection(b);
    out.progress(runtime.description);
    return await unpeerPair(runtime, a, b, { timeoutMs, out, signal });
  } finally {
    await runtime.close();
  }
}

/**
 * Deletes the peering of a and b on both sides, then its secrets: what `unpeer` and `apply --prune` do
 * for one pair. Under the pair's lock, like the pipeline's accept and dial: an unpeer racing a peer
 * request then runs wholly before or wholly after each of its steps, and the end state is whichever
 * ran last.
 */
export async function unpeerPair(
  runtime: Runtime,
  a: string,
  b: string,
  options: { timeoutMs: number; out: CommandContext['out']; signal?: AbortSignal | undefined },
): Promise<ExitCode> {
  const warn = (message: string): void => {
    options.out.progress(message);
  };
  return withPairLock(
    await runtime.consul(pairLockOf(a, b).host),
    { a, b },
    `unpeer ${a}/${b}`,
    { clock: systemClock, log: { info: () => undefined, warn }, settings: runtime.settings },
    () => deleteBothSides(runtime, a, b, options),
  );
}

async function deleteBothSides(
  runtime: Runtime,
  a: string,
  b: string,
  {
    timeoutMs,
    out,
    signal,
  }: { timeoutMs: number; out: CommandContext['out']; signal?: AbortSignal | undefined },
): Promise<ExitCode> {
  const results = await waitForAll([deleteSide(runtime, a, b), deleteSide(runtime, b, a)], {
    timeoutMs,
    out,
    signal,
  });
  let failed = false;
  for (const [i, [cluster, peer]] of [
    [a, b],
    [b, a],
  ].entries()) {
    const result = results[i];
    if (result?.status === 'done') {
      out.result(`${cluster}: peering "${peer}" ${result.value}`);
    } else {
      failed = true;
      const last =
        result?.status === 'timed out' && result.lastState !== undefined
          ? ` (last: ${result.lastState})`
          : '';
      out.result(`${cluster}: peering "${peer}" ${result?.status ?? 'not checked'}${last}`);
    }
  }
  if (signal?.aborted === true) return EXIT.interrupted;
  if (failed) {
    out.error('the peering-token secrets and wanted-peering records were kept; run peerctl unpeer again');
    return EXIT.failed;
  }
  const prefix = runtime.settings.secretPrefix;
  for (const [acceptor, dialer] of [
    [a, b],
    [b, a],
  ] as const) {
    for (const name of [
      peeringTokenSecretName(prefix, acceptor, dialer),
      peeringRecordSecretName(prefix, acceptor, dialer),
    ]) {
      const present = (await runtime.secrets.list({ namePrefix: name })).some((s) => s.name === name);
      if (!present) continue;
      // Without a recovery window: a token of a deleted peering is useless, and Secrets Manager would
      // refuse to re-create the name (a new peering of the same pair) while it waits to be deleted.
      await runtime.secrets.delete(name, { forceWithoutRecovery: true });
      out.result(`deleted secret ${name}`);
    }
  }
  return EXIT.ok;
}

export const unpeer: Command = {
  name: 'unpeer',
  summary: 'delete a peering on both sides, then its token and wanted-peering secrets',
  help: HELP_TEXT,
  options: { ...HELP, timeout: { type: 'string', short: 't' }, ...BACKEND },
  run,
};
