import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { freePorts } from './free-port';
import { OwnedProcess } from './owned-process';

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
  // Like every server the tests start: its own process group and a watchdog, so it dies with us.
  const moto = new OwnedProcess('moto_server', executable, ['-H', '127.0.0.1', '-p', String(port)]);
  const tail = (): string => moto.output.slice(-OUTPUT_LIMIT);

  const started = Date.now();
  const deadline = started + readyTimeoutMs;
  for (;;) {
    if (!moto.running) {
      const code = await moto.exited();
      await moto.stop();
      if (code === 127 || tail().includes('ENOENT')) throw new Error(`${INSTALL_HINT}\n${tail()}`);
      if (tail().includes('Address already in use')) throw new PortInUseError(`port ${port} is taken`);
      throw new Error(
        `moto_server did not start: exited with code ${String(code)}\n--- moto output ---\n${tail()}`,
      );
    }
    if (await answers(endpoint)) break;
    if (Date.now() > deadline) {
      await moto.stop(0);
      throw new Error(
        `moto_server did not answer on ${endpoint} within ${readyTimeoutMs} ms\n--- moto output ---\n${tail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const readyMs = Date.now() - started;

  return {
    endpoint,
    port,
    pid: moto.pid ?? -1,
    clientConfig: {
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    },
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}\n${tail()}`);
    },
    stop: () => moto.stop(),
    output: () => `(ready after ${readyMs} ms)\n${tail()}`,
  };
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
