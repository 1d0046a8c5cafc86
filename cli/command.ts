import type { OptionTable, ParsedArgs } from './args';
import type { ExitCode } from './exit-codes';
import type { Output } from './io';

export interface CommandContext {
  out: Output;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
}

/** One peerctl command: its flags, its `--help`, and what it does. */
export interface Command {
  /** As typed: `cluster add`, `peer`, ... */
  name: string;
  /** One line for the global help. */
  summary: string;
  /** The full `--help` text, with examples. */
  help: string;
  options: OptionTable;
  /** Checks everything it was given (UsageError, before any change), then runs. */
  run(args: ParsedArgs, context: CommandContext): Promise<ExitCode>;
}
