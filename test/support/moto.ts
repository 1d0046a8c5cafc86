import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { freePorts } from './free-port';

/**
 * A real moto server (AWS APIs on loopback) owned by the calling test file: started as a child process
 * on a free port, reset between tests, killed when the tests end or the process dies.
 */
export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** For any SDK v3 client: `new SQSClient(moto.clientConfig)`. */
  readonly clientConfig: MotoClientConfig;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
  /** The last lines moto printed, for failure messages. */
  output(): string;
}

export interface MotoClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface StartMotoOptions {
  /** Defaults to $MOTO_SERVER (as in global setup), else `moto_server` from PATH. */
  command?: string;
  readyTimeoutMs?: number;
}

const INSTALL_HINT = 'moto_server not found on PATH; install it with `pip install moto[server]==5.2.1`';
const OUTPUT_LIMIT = 64 * 1024;
const PORT_ATTEMPTS = 3;

export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  const command = options.command ?? process.env.MOTO_SERVER ?? 'moto_server';
  const executable = findExecutable(command);
  if (executable === undefined) throw new Error(INSTALL_HINT);
  let lastError: unknown;
  // The port is free when we look and taken by moto a moment later; another process may win that race.
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    try {
      const [port] = await freePorts(1);
      if (port === undefined) throw new Error('no free port for moto_server');
      return await launch(executable, port, options.readyTimeoutMs ?? 15_000);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function launch(executable: string, port: number, readyTimeoutMs: number): Promise<MotoServer> {
  const endpoint = `http://127.0.0.1:${port}`;
  const args = ['-H', '127.0.0.1', '-p', String(port)];
  // On Linux, setpriv asks the kernel to kill moto when this process dies, even by SIGKILL, where no
  // exit handler runs. It execs, so the pid stays moto's. detached stays false: moto shares our process
  // group, so a Ctrl-C in the terminal reaches it too.
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv') : undefined;
  const child =
    setpriv === undefined
      ? spawn(executable, args, { detached: false, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(setpriv, ['--pdeathsig', 'KILL', '--', executable, ...args], {
          detached: false,
          stdio: ['ignore', 'pipe', 'pipe'],
        });

  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  // Set from event handlers; an object keeps the compiler from narrowing the fields to `undefined`.
  const state: {
    exit?: { code: number | null; signal: NodeJS.Signals | null };
    spawnError?: NodeJS.ErrnoException;
  } = {};
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exit = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      state.spawnError = error;
      resolve();
    });
  });
  const unregister = killWithProcess(child);

  const started = Date.now();
  const deadline = started + readyTimeoutMs;
  for (;;) {
    const { exit, spawnError } = state;
    if (spawnError !== undefined || exit !== undefined) {
      unregister();
      if (spawnError?.code === 'ENOENT' || exit?.code === 127) throw new Error(`${INSTALL_HINT}\n${output}`);
      if (output.includes('Address already in use')) throw new PortInUseError(`port ${port} is taken`);
      const how = spawnError?.message ?? `exited with code ${exit?.code} (signal ${exit?.signal})`;
      throw new Error(`moto_server did not start: ${how}\n--- moto output ---\n${output}`);
    }
    if (await answers(endpoint)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      unregister();
      throw new Error(
        `moto_server did not answer on ${endpoint} within ${readyTimeoutMs} ms\n--- moto output ---\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const readyMs = Date.now() - started;

  return {
    endpoint,
    port,
    pid: child.pid ?? -1,
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}\n${output}`);
    },
    async stop() {
      if (state.exit === undefined && state.spawnError === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      unregister();
    },
    output: () => `(ready after ${readyMs} ms)\n${output}`,
  };
}

/** Kills the child when this process exits or is told to stop; returns the undo. */
function killWithProcess(child: ChildProcess): () => void {
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (signal: NodeJS.Signals): void => {
    child.kill('SIGKILL');
    unregister();
    // Listening to a signal cancels its default action: restore it when nobody else listens.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const unregister = (): void => {
    process.off('exit', onExit);
    for (const signal of signals) process.off(signal, onSignal);
  };
  process.on('exit', onExit);
  for (const signal of signals) process.on(signal, onSignal);
  return unregister;
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function findExecutable(command: string): string | undefined {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '').split(delimiter).map((directory) => join(directory, command));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return isAbsolute(candidate) || command.includes('/');
    } catch {
      return false;
    }
  });
}
