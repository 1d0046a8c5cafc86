/**
 * Flags and arguments of one command, on Node's `util.parseArgs` (no dependency). Node's own error
 * texts are replaced with ours: they name the flag, suggest the closest known one, and never echo a
 * value (a mistyped `--token=...` must not print the token back).
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionTable = Record<string, OptionSpec>;

type Value = string | boolean | string[] | undefined;

export class ParsedArgs {
  constructor(
    readonly command: string,
    private readonly values: Record<string, Value>,
    readonly positionals: readonly string[],
  ) {}

  string(name: string): string | undefined {
    const value = this.values[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new Error(`--${name} is not a string option`);
    if (value === '') throw new UsageError(`--${name}: expected a value, got ""`, this.command);
    return value;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  list(name: string): string[] {
    const value = this.values[name];
    return Array.isArray(value) ? value : [];
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }
}

/** `--token` and `--token=...` get their own answer: a token never goes on the command line. */
const TOKEN_FLAG = /^--?token(=|$)/;

export function parseCommandArgs(command: string, argv: readonly string[], options: OptionTable): ParsedArgs {
  if (argv.some((arg) => TOKEN_FLAG.test(arg))) {
    throw new UsageError(
      '--token: a token is never passed on the command line (it would stay in your shell history and the process list); use --token-file FILE or --token-env VARIABLE',
      command,
    );
  }
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
    });
    return new ParsedArgs(command, values as Record<string, Value>, positionals);
  } catch (error) {
    throw new UsageError(describeParseError(error, options, argv), command);
  }
}

function describeParseError(error: unknown, options: OptionTable, argv: readonly string[]): string {
  // Duck-typed: Node's own errors may come from another realm (jest's vm contexts), failing instanceof.
  const { code, message: raw } = (error ?? {}) as { code?: unknown; message?: unknown };
  const message = typeof raw === 'string' ? raw : '';
  const flag = /'(?:-\w, )?(-[^' ]*)/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const suggestion = closest(flag.replace(/^-+/, ''), Object.keys(options));
    return `unknown option ${flag}${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (message.includes('does not take an argument')) return `${flag} takes no value`;
    if (message.includes('ambiguous')) {
      const short = options[flag.replace(/^--/, '')]?.short;
      const at = argv.findIndex((arg) => arg === flag || (short !== undefined && arg === `-${short}`));
      const next = at < 0 ? undefined : argv[at + 1];
      return `${flag}: expected a value, got the option ${next === undefined ? '' : `"${next}"`}`.trimEnd();
    }
    return `${flag}: expected a value`;
  }
  return message.split(/\.\s/)[0] ?? 'invalid arguments';
}

/** The known option nearest to a misspelt one (edit distance ≤ 3), for "did you mean". */
function closest(typed: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(typed, name);
    if (distance <= 3 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Exactly these positionals (names for messages, e.g. `<acceptor>`). */
export function expectPositionals(args: ParsedArgs, names: readonly string[], hint = ''): string[] {
  const { positionals, command } = args;
  if (positionals.length < names.length) {
    const missing = names.slice(positionals.length).join(' ');
    throw new UsageError(`missing ${missing}`, command);
  }
  if (positionals.length > names.length) {
    // Not echoed: a stray argument may be a token pasted in the wrong place.
    throw new UsageError(
      `unexpected argument #${names.length + 1} (expected ${names.length === 0 ? 'none' : names.join(' ')})${hint}`,
      command,
    );
  }
  return [...positionals];
}
