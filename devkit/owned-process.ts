import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A child process that cannot outlive the Node process that started it (a test run, the demo, a
 * bench). Jest may kill a worker on timeout without running afterAll, so every server we start gets
 * its own process group and a tiny watchdog shell that kills that group as soon as the Node process
 * that owns it disappears. Output is kept for failure reports.
 */
export class OwnedProcess {
  readonly #child: ChildProcess;
  readonly #watchdog: ChildProcess;
  #output = '';
  /** Characters dropped from the front of #output when it grew too long. */
  #dropped = 0;
  #spawnFailed = false;
  #exited: Promise<number | null>;

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    /** `removeOnOrphan`: a temporary directory of the process's, removed too when the watchdog fires. */
    options: { cwd?: string; env?: NodeJS.ProcessEnv; removeOnOrphan?: string } = {},
  ) {
    this.#child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // own process group, so the watchdog can kill the whole tree
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > 2_000_000) {
        this.#dropped += this.#output.length - 1_000_000;
        this.#output = this.#output.slice(-1_000_000);
      }
    };
    this.#child.stdout?.on('data', keep);
    this.#child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        resolve(code);
      });
      this.#child.once('error', (error) => {
        this.#spawnFailed = true;
        this.#output += `\n[spawn error] ${error.message}\n`;
        resolve(null);
      });
    });
    const pgid = this.#child.pid;
    const watchdogScript =
      'while kill -0 "$1" 2>/dev/null && kill -0 -"$2" 2>/dev/null; do sleep 1; done; ' +
      'kill -TERM -"$2" 2>/dev/null; sleep 3; kill -KILL -"$2" 2>/dev/null; ' +
      'if [ -n "$3" ] && ! kill -0 "$1" 2>/dev/null; then rm -rf "$3"; fi; exit 0'; // only when orphaned
    const watchdogArgs = [
      '-c',
      watchdogScript,
      'watchdog',
      String(process.pid),
      String(pgid ?? 0),
      options.removeOnOrphan ?? '',
    ];
    this.#watchdog = spawn('sh', watchdogArgs, {
      detached: true,
      stdio: 'ignore',
    });
    this.#watchdog.unref();
    this.#child.unref();
    OwnedProcess.#live.add(this);
  }

  static readonly #live = new Set<OwnedProcess>();

  /** Kills every process this Node process still owns (used by global teardown and exit hooks). */
  static async stopAll(): Promise<void> {
    await Promise.all([...OwnedProcess.#live].map((p) => p.stop()));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** What it printed to stdout and stderr: the last 1-2 MB. */
  get output(): string {
    return this.#output;
  }

  /** How much it printed in all, so a reader can continue where it left off after a trim. */
  get outputLength(): number {
    return this.#dropped + this.#output.length;
  }

  get running(): boolean {
    return !this.#spawnFailed && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves with the exit code when the process ends (null if it could not start or was signalled). */
  exited(): Promise<number | null> {
    return this.#exited;
  }

  /** The signal that ended the process (e.g. `SIGKILL` after `kill()`), null while it runs or after a normal exit. */
  get exitSignal(): NodeJS.Signals | null {
    return this.#child.signalCode;
  }

  /**
   * Sends `signal` to the whole process group at once, with no grace period (a crash, not a shutdown),
   * and resolves when the process has ended. The process is forgotten: a restart is a new OwnedProcess.
   */
  async kill(
    signal: NodeJS.Signals = 'SIGKILL',
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    OwnedProcess.#live.delete(this);
    const pgid = this.#child.pid;
    if (pgid !== undefined && this.running) signalGroup(pgid, signal);
    const code = await this.#exited;
    if (this.#watchdog.pid !== undefined) signalGroup(this.#watchdog.pid, 'SIGKILL');
    return { code, signal: this.#child.signalCode };
  }

  async stop(graceMs = 5_000): Promise<void> {
    OwnedProcess.#live.delete(this);
    const pgid = this.#child.pid;
    if (pgid !== undefined && this.running) {
      signalGroup(pgid, 'SIGTERM');
      const timer = setTimeout(() => {
        signalGroup(pgid, 'SIGKILL');
      }, graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
    if (this.#watchdog.pid !== undefined) signalGroup(this.#watchdog.pid, 'SIGKILL');
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void OwnedProcess.stopAll().finally(() => process.exit(130));
  });
}
