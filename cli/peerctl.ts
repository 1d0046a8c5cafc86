/**
 * peerctl: the command line of consul-peering-automation. It registers clusters, requests peerings
 * (publishing the pipeline's events), shows status from Consul, scans and remediates drift, and
 * deletes peerings. `main` is the whole program, minus the process: tests call it in-process.
 */
import { parseCommandArgs } from './args';
import type { Command } from './command';
import { apply } from './commands/apply';
import { clusterAdd } from './commands/cluster-add';
import { planCommand, remediateCommand } from './commands/drift';
import { mesh, peer, regenerate } from './commands/peer';
import { rotate } from './commands/rotate';
import { status } from './commands/status';
import { unpeer } from './commands/unpeer';
import { messageOf, UsageError } from './errors';
import { EXIT } from './exit-codes';
import { Output, processIo, type CliIo } from './io';

export { processIo, type CliIo } from './io';
export { EXIT } from './exit-codes';

export const COMMANDS: readonly Command[] = [
  clusterAdd,
  peer,
  mesh,
  status,
  planCommand,
  remediateCommand,
  regenerate,
  unpeer,
  rotate,
  apply,
];

const SYNOPSIS: Record<string, string> = {
  apply: 'apply -f <fleet.yaml|fleet.json>',
  'cluster add': 'cluster add <name> --address URL',
  peer: 'peer <acceptor> <dialer>',
  mesh: 'mesh <cluster> <cluster> ...',
  status: 'status [<cluster>]',
  plan: 'plan',
  remediate: 'remediate',
  regenerate: 'regenerate <acceptor> <dialer>',
  unpeer: 'unpeer <cluster> <cluster>',
  rotate: 'rotate <cluster>',
};

export const GLOBAL_HELP = `usage: peerctl <command> [arguments] [options]

Cluster peering of HashiCorp Consul through mesh gateways, done by the consul-peering-automation
pipeline (onboard-cluster, accept-peering, dial-peering). peerctl stores connection secrets,
publishes the pipeline's events, and reads Consul to show where things are.

commands
${COMMANDS.map((c) => `  ${(SYNOPSIS[c.name] ?? c.name).padEnd(36)}${c.summary}`).join('\n')}

Run "peerctl <command> --help" (or "peerctl help <command>") for its options and examples.

backends
  default   local: a 0600 secret file and the pipeline's handlers in this process
  --aws     Secrets Manager and the deployed pipeline's SQS queues (AWS_ENDPOINT_URL for moto)

declaratively: one file in git names the clusters and peerings
  peerctl apply -f fleet.yaml --dry-run    # the plan: what will be registered, requested, deleted
  peerctl apply -f fleet.yaml              # make it so (--prune also deletes what the file dropped)

a session, one command at a time
  peerctl cluster add dc1 --address https://consul.dc1:8501 --token-file dc1.token \\
      --gateway-lan 10.1.0.10:8443 --gateway-wan 203.0.113.10:8443
  peerctl cluster add dc2 --address https://consul.dc2:8501 --token-env CONSUL_TOKEN_DC2 \\
      --gateway-lan 10.2.0.10:8443 --gateway-wan 198.51.100.10:8443
  peerctl peer dc1 dc2 --export web
  peerctl status
  peerctl plan

exit codes
  0    done (published, established, onboarded, deleted, rotated; plan: no drift; apply: applied)
  1    failed: peering.failed, a dead-lettered request, a timeout, an unreachable cluster
  2    bad input or usage (the message names the flag); nothing was changed
  3    plan found drift
  130  interrupted`;

/** The command named by the first words of argv, and the rest of argv. */
function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } {
  const [first = '', second] = argv;
  if (first === 'cluster') {
    if (second === 'add') return { command: clusterAdd, rest: argv.slice(2) };
    throw new UsageError(
      second === undefined
        ? 'cluster: expected a subcommand: add'
        : `cluster: unknown subcommand "${second}"; expected: add`,
    );
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) {
    const known = COMMANDS.map((c) => c.name.split(' ')[0]).join(', ');
    throw new UsageError(
      first.startsWith('-')
        ? `expected a command before the options (${known})`
        : `unknown command "${first.slice(0, 40)}" (commands: ${known})`,
    );
  }
  return { command, rest: argv.slice(1) };
}

const wantsHelp = (argv: readonly string[]): boolean =>
  argv.some((arg) => arg === '--help' || arg === '-h') && !argv.includes('--');

/** Runs peerctl with these arguments; resolves with the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const out = new Output(io);
  let command: Command | undefined;
  try {
    if (argv.length === 0) {
      out.error(GLOBAL_HELP);
      return EXIT.usage;
    }
    if (argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
      if (argv.length === 1) {
        io.stdout(GLOBAL_HELP);
        return EXIT.ok;
      }
      command = findCommand(argv.slice(1)).command;
      io.stdout(command.help);
      return EXIT.ok;
    }
    const found = findCommand(argv);
    command = found.command;
    if (wantsHelp(found.rest)) {
      io.stdout(command.help);
      return EXIT.ok;
    }
    const args = parseCommandArgs(command.name, found.rest, command.options);
    return await command.run(args, { out, env: io.env ?? process.env, signal: io.signal });
  } catch (error) {
    const name = command === undefined ? 'peerctl' : `peerctl ${command.name}`;
    if (error instanceof UsageError) {
      out.error(`${name}: ${error.message}`);
      out.error(`run "${name} --help" for usage`);
      return EXIT.usage;
    }
    out.error(`${name}: ${messageOf(error)}`);
    return EXIT.failed;
  }
}

/** The process around `main` (bin/peerctl.mjs): Ctrl-C stops a wait (twice quits), the exit code is set. */
export async function runAsProcess(): Promise<void> {
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write('interrupted: stopping (Ctrl-C again to quit at once)\n');
    interrupt.abort();
  };
  process.on('SIGINT', onSigint);
  const code = await main(process.argv.slice(2), processIo(interrupt.signal));
  process.off('SIGINT', onSigint);
  process.exitCode = code;
  // Output is written by now; an idle keep-alive socket must not hold the process open.
  setTimeout(() => process.exit(code), 1_000).unref();
}
