import { redactText } from '#commons/observability/redact';

/** Where peerctl writes, and what it reads from its surroundings; tests pass their own. */
export interface CliIo {
  /** One line of results (tables, JSON, summaries), without the trailing newline. */
  stdout(line: string): void;
  /** One line of progress or an error, without the trailing newline. */
  stderr(line: string): void;
  /** Environment variables (tokens by `--token-env`, settings, queue URLs). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Aborts a wait (Ctrl-C): the command stops and exits 130. */
  signal?: AbortSignal;
}

export function processIo(signal?: AbortSignal): CliIo {
  return {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    ...(signal === undefined ? {} : { signal }),
  };
}

/** Shorter values are not scrubbed: they would blank out ordinary words. Tokens are UUIDs or longer. */
const MIN_SECRET_LENGTH = 8;

/**
 * What commands write through: results on stdout, progress and errors on stderr (so `--json` output
 * stays parseable). Every line is scrubbed of the secret values the command has read (tokens from
 * files, variables and connection secrets) and of anything shaped like a secret (redactText), so not
 * even an unexpected error message can print one.
 */
export class Output {
  readonly #secrets = new Set<string>();
  readonly #started = Date.now();

  constructor(private readonly io: CliIo) {}

  /** Never print this value (a token, a secret's content). */
  redact(value: string | undefined): void {
    if (value !== undefined && value.length >= MIN_SECRET_LENGTH) this.#secrets.add(value);
  }

  result(line: string): void {
    this.io.stdout(this.scrub(line));
  }

  /** A progress line with the seconds since the command started: `[  3.2s] text`. */
  progress(text: string): void {
    const elapsed = ((Date.now() - this.#started) / 1000).toFixed(1).padStart(5);
    this.io.stderr(this.scrub(`[${elapsed}s] ${text}`));
  }

  error(text: string): void {
    for (const line of text.split('\n')) this.io.stderr(this.scrub(line));
  }

  elapsedSeconds(): number {
    return (Date.now() - this.#started) / 1000;
  }

  /** The secret values this command read, then every secret shape (the one redactor). */
  scrub(text: string): string {
    return redactText(text, [...this.#secrets]);
  }
}
