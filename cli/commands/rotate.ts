import { gatewayTokenSecretName } from '#commons/naming';
import { AWSCURRENT, AWSPREVIOUS, type SecretVersions } from '#commons/ports/secret-store';
import { expectPositionals, type ParsedArgs } from '../args';
import type { Command, CommandContext } from '../command';
import { messageOf, UsageError } from '../errors';
import { EXIT, type ExitCode } from '../exit-codes';
import * as fields from '../fields';
import { BACKEND_HELP } from '../help-text';
import { BACKEND, backendChoice, HELP, JSON_OUTPUT } from '../options';
import { openRuntime } from '../runtime';
import { waitForAll } from '../wait';

/** Secrets Manager runs the four steps in seconds; a few minutes covers a cold rotation function. */
const DEFAULT_ROTATE_TIMEOUT_SECONDS = 120;

const HELP_TEXT = `usage: peerctl rotate <cluster> [--timeout SECS] [--json] [options]

Rotates the cluster's mesh gateway ACL token now, as the schedule would (every 30 days by default):
a new Consul token with the same policy becomes AWSCURRENT of <prefix>/gateway-tokens/<cluster>, and
the token it replaces becomes AWSPREVIOUS. The previous token stays valid in Consul until the next
rotation, so running gateways have a whole rotation period to pick up the new one (restart them, or
let your secret sync do it). The token before that is deleted from Consul.

  local (default)      the four rotation steps (createSecret, setSecret, testSecret, finishSecret)
                       run here, against the cluster and the local secret file
  --aws                asks Secrets Manager to rotate now (RotateSecret), which invokes the deployed
                       rotation function; peerctl waits until AWSCURRENT has moved
  -t, --timeout SECS   how long to wait with --aws (default ${DEFAULT_ROTATE_TIMEOUT_SECONDS})
  --json               one JSON document {cluster, secretName, currentVersion, previousVersion}
                       on stdout (version ids by their first 8 characters: peerctl hides
                       anything shaped like a UUID, as a Consul SecretID is)

A failed step leaves AWSCURRENT as it was, and working: fix the cause and run it again.

${BACKEND_HELP}

examples
  peerctl rotate dc1
  peerctl rotate dc1 --aws --json | jq -r .current

exit codes
  0  rotated   1  a step failed or did not finish in time   2  bad input (unknown or not onboarded cluster)`;

/**
 * A version id as printed: its first 8 characters. Version ids are UUIDs, and peerctl's output hides
 * every UUID-shaped string (a Consul SecretID is one), so a whole id would print as [REDACTED].
 */
const short = (versionId: string | undefined): string => versionId?.slice(0, 8) ?? 'none';

const labelled = (versions: SecretVersions | undefined, label: string): string | undefined =>
  versions === undefined
    ? undefined
    : Object.keys(versions.stages).find((id) => versions.stages[id]?.includes(label));

async function run(args: ParsedArgs, { out, env, signal }: CommandContext): Promise<ExitCode> {
  const [cluster = ''] = expectPositionals(args, ['<cluster>']);
  fields.clusterName(cluster, '<cluster>');
  const timeout = args.string('timeout');
  const timeoutMs =
    (timeout === undefined
      ? DEFAULT_ROTATE_TIMEOUT_SECONDS
      : fields.wholeNumber(timeout, '--timeout', 1, 3_600, 'seconds')) * 1000;
  const runtime = openRuntime({ backend: backendChoice(args, env), env, out });
  try {
    await runtime.connection(cluster);
    const secret = gatewayTokenSecretName(runtime.settings.secretPrefix, cluster);
    const before = labelled(await runtime.secrets.versions(secret), AWSCURRENT);
    if (before === undefined) {
      throw new UsageError(
        `<cluster>: "${cluster}" has no gateway token yet (no ${secret}); onboarding makes it: peerctl cluster add ${cluster} ... --wait`,
        'rotate',
      );
    }
    out.progress(runtime.description);
    out.progress(`${secret}: rotating (AWSCURRENT is version ${short(before)})`);
    let rotating: string;
    try {
      rotating = await runtime.rotateNow(secret);
    } catch (error) {
      out.error(
        `${secret}: rotation failed: ${messageOf(error)}. AWSCURRENT is still version ${short(before)} and works; fix the cause and run peerctl rotate ${cluster} again`,
      );
      return EXIT.failed;
    }
    const [result] = await waitForAll(
      [
        {
          label: secret,
          probe: async () => {
            const versions = await runtime.secrets.versions(secret);
            if (labelled(versions, AWSCURRENT) === rotating) return { done: versions };
            return {
              state: `version ${short(rotating)} is ${versions?.stages[rotating]?.join(', ') ?? 'not made yet'}`,
            };
          },
        },
      ],
      { timeoutMs, out, signal },
    );
    if (result?.status !== 'done') {
      if (result?.status === 'interrupted') return EXIT.interrupted;
      out.error(
        `${secret}: AWSCURRENT did not move to version ${short(rotating)} within ${timeoutMs / 1000}s; it is still version ${short(before)} and works. ` +
          "See the rotation function's log (rotate-gateway-token in CloudWatch), then run peerctl rotate again",
      );
      return EXIT.failed;
    }
    const previous = labelled(result.value, AWSPREVIOUS);
    if (args.flag('json')) {
      out.result(
        JSON.stringify(
          { cluster, secretName: secret, currentVersion: short(rotating), previousVersion: short(previous) },
          null,
          2,
        ),
      );
    } else {
      out.result(
        `${cluster}: gateway token rotated; AWSCURRENT is version ${short(rotating)}, AWSPREVIOUS ${short(previous)}`,
      );
      out.result(
        `the previous token stays valid until the next rotation: restart ${cluster}'s gateways to use the new one`,
      );
    }
    return EXIT.ok;
  } finally {
    await runtime.close();
  }
}

export const rotate: Command = {
  name: 'rotate',
  summary: "rotate a cluster's gateway ACL token now (AWSCURRENT moves, the previous one stays valid)",
  help: HELP_TEXT,
  options: { ...HELP, timeout: { type: 'string', short: 't' }, ...JSON_OUTPUT, ...BACKEND },
  run,
};
