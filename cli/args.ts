/**
 * Flags and arguments of one command, on Node's `util.parseArgs` (no dependency). It parses leniently
 * and hands back its tokens; the checks are ours, made on the tokens, so the errors name the flag,
 * suggest the closest known one and never echo a value (a mistyped `--token=...` must not print the
 * token back), without depending on the wording of Node's own errors.
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
  const { values, positionals, tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const problem = optionProblem(token, options[token.name]);
    if (problem === undefined) continue;
    if (problem === 'unknown') {
      const suggestion = closest(token.name, Object.keys(options));
      throw new UsageError(
        `unknown option ${token.rawName}${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`,
        command,
      );
    }
    throw new UsageError(problem, command);
  }
  return new ParsedArgs(command, values, positionals);
}

/** An option as `parseArgs` tokenizes it (Node's own shape, of which we read these fields). */
interface OptionToken {
  name: string;
  rawName: string;
  value?: string | undefined;
  inlineValue?: boolean | undefined;
}

/** What is wrong with one option as given, in words that name it; undefined when nothing is. */
function optionProblem(token: OptionToken, spec: OptionSpec | undefined): string | undefined {
  const { rawName, value, inlineValue } = token;
  if (spec === undefined) return 'unknown';
  if (spec.type === 'boolean') return value === undefined ? undefined : `${rawName} takes no value`;
  if (value === undefined) return `${rawName}: expected a value`;
  // `--name --other`: the lenient parser took the next option as the value, which strict parsing (and
  // the user) would not. The option is named; a value is never echoed.
  if (inlineValue !== true && value.startsWith('-')) {
    return `${rawName}: expected a value, got the option "${value}"`;
  }
  return undefined;
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
