import { execFileSync } from 'node:child_process';
import { freePorts } from './free-port';
import { OwnedProcess } from './owned-process';
import { pollUntil } from './poll';

/**
 * A real toxiproxy server (Shopify, MIT; built by scripts/toxiproxy-binary.sh) owned by the caller,
 * driven through its HTTP API (https://github.com/Shopify/toxiproxy#http-api) on a free loopback port.
 * Each proxy listens on its own free loopback port and forwards TCP to one upstream; toxics degrade
 * that link, `disable()` takes the dependency down (the listener closes: connection refused) and
 * `enable()` brings it back.
 */
export type ToxicType = 'latency' | 'timeout' | 'reset_peer' | 'slow_close' | 'bandwidth' | 'limit_data';

/** The attributes of each toxic type, in toxiproxy's own units (milliseconds, KB/s, bytes). */
export interface ToxicAttributes {
  latency: { latency: number; jitter?: number };
  /** Stops all data; closes the connection after `timeout` ms (0: never, a blackhole). */
  timeout: { timeout: number };
  /** Resets the connection (TCP RST) after `timeout` ms. */
  reset_peer: { timeout: number };
  /** Delays the close of the connection by `delay` ms. */
  slow_close: { delay: number };
  bandwidth: { rate: number };
  /** Closes the connection after `bytes` bytes. */
  limit_data: { bytes: number };
}

export interface ToxicSpec<T extends ToxicType = ToxicType> {
  type: T;
  attributes: ToxicAttributes[T];
  /** `downstream` (upstream → client, toxiproxy's default) or `upstream` (client → upstream). */
  stream?: 'upstream' | 'downstream';
  /** Probability in [0, 1] that a connection gets the toxic (default 1). */
  toxicity?: number;
  name?: string;
}

export interface ProxyState {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: { name: string; type: ToxicType; stream: string; toxicity: number; attributes: object }[];
}

/** What went through a proxy, from toxiproxy's own counters (`-proxy-metrics`) and its log. */
export interface ProxyCounters {
  /** Client connections the proxy accepted. */
  connections: number;
  /** Bytes toxiproxy received from clients (upstream direction) and from the upstream (downstream). */
  bytesFromClients: number;
  bytesFromUpstream: number;
}

export class ToxiproxyServer {
  private constructor(
    private readonly process: OwnedProcess,
    readonly apiPort: number,
  ) {}

  get api(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get log(): string {
    return this.process.output;
  }

  static async start(binary = toxiproxyBinary()): Promise<ToxiproxyServer> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [port] = (await freePorts(1)) as [number];
      const server = new ToxiproxyServer(
        new OwnedProcess(
          'toxiproxy',
          binary,
          ['-host', '127.0.0.1', '-port', String(port), '-proxy-metrics'],
          // info level logs one line per accepted client connection: the connection counter.
          { env: { ...process.env, LOG_LEVEL: 'info' } },
        ),
        port,
      );
      try {
        await pollUntil(
          `toxiproxy to answer on ${server.api}`,
          async () => {
            if (!server.process.running) throw new Error(`toxiproxy exited:\n${server.log.slice(-2000)}`);
            const response = await fetch(`${server.api}/version`, { signal: AbortSignal.timeout(1_000) });
            return response.ok ? true : undefined;
          },
          { timeoutMs: 10_000, intervalMs: 50 },
        );
        return server;
      } catch (error) {
        lastError = error;
        await server.process.stop();
      }
    }
    throw new Error(`toxiproxy did not start: ${String(lastError)}`);
  }

  /** A proxy named `name` on a free loopback port, forwarding to `upstream` ("host:port"). */
  async createProxy(name: string, upstream: string): Promise<Proxy> {
    let lastError = '';
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [port] = (await freePorts(1)) as [number];
      const response = await this.call('POST', '/proxies', {
        name,
        listen: `127.0.0.1:${port}`,
        upstream,
        enabled: true,
      });
      if (response.status === 201) return new Proxy(this, name, port);
      lastError = `HTTP ${response.status}: ${await response.text()}`;
    }
    throw new Error(`toxiproxy could not create proxy ${name} -> ${upstream}: ${lastError}`);
  }

  /** Every proxy enabled again and every toxic removed (POST /reset). */
  async reset(): Promise<void> {
    await this.expectOk(await this.call('POST', '/reset'), 'reset');
  }

  /** Per-proxy counters from `/metrics` (Prometheus text) and the "Accepted client" log lines. */
  async counters(name: string): Promise<ProxyCounters> {
    const text = await (await this.call('GET', '/metrics')).text();
    const sum = (metric: string, direction: string): number =>
      text
        .split('\n')
        .filter(
          (line) =>
            line.startsWith(`toxiproxy_proxy_${metric}{`) &&
            line.includes(`direction="${direction}"`) &&
            line.includes(`proxy="${name}"`),
        )
        .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    const accepted = this.log
      .split('\n')
      .filter((line) => line.includes('"Accepted client"') && line.includes(`"name":"${name}"`)).length;
    return {
      connections: accepted,
      bytesFromClients: sum('received_bytes_total', 'upstream'),
      bytesFromUpstream: sum('received_bytes_total', 'downstream'),
    };
  }

  call(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.api}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(5_000),
    });
  }

  async expectOk(response: Response, what: string): Promise<unknown> {
    const text = await response.text();
    if (!response.ok) throw new Error(`toxiproxy ${what}: HTTP ${response.status}: ${text}`);
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

export class Proxy {
  constructor(
    private readonly server: ToxiproxyServer,
    readonly name: string,
    readonly port: number,
  ) {}

  /** "127.0.0.1:port", where clients connect instead of the upstream. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async addToxic<T extends ToxicType>(spec: ToxicSpec<T>): Promise<string> {
    const name = spec.name ?? `${spec.type}_${spec.stream ?? 'downstream'}`;
    await this.server.expectOk(
      await this.server.call('POST', `/proxies/${this.name}/toxics`, {
        name,
        type: spec.type,
        stream: spec.stream ?? 'downstream',
        toxicity: spec.toxicity ?? 1,
        attributes: spec.attributes,
      }),
      `add ${spec.type} to ${this.name}`,
    );
    return name;
  }

  async removeToxic(name: string): Promise<void> {
    await this.server.expectOk(
      await this.server.call('DELETE', `/proxies/${this.name}/toxics/${name}`),
      `remove ${name} from ${this.name}`,
    );
  }

  /** The dependency goes down: toxiproxy closes the listener and every open connection. */
  async disable(): Promise<void> {
    await this.setEnabled(false);
  }

  async enable(): Promise<void> {
    await this.setEnabled(true);
  }

  async state(): Promise<ProxyState> {
    return (await this.server.expectOk(
      await this.server.call('GET', `/proxies/${this.name}`),
      `read ${this.name}`,
    )) as ProxyState;
  }

  counters(): Promise<ProxyCounters> {
    return this.server.counters(this.name);
  }

  private async setEnabled(enabled: boolean): Promise<void> {
    await this.server.expectOk(
      await this.server.call('POST', `/proxies/${this.name}`, { enabled }),
      `${enabled ? 'enable' : 'disable'} ${this.name}`,
    );
  }
}

/**
 * TOXIPROXY_BIN if set (CI exports it), else the cached build, else `scripts/toxiproxy-binary.sh`
 * builds it (it prints the path). Fails with what to do, never skips.
 */
export function toxiproxyBinary(): string {
  const fromEnv = process.env.TOXIPROXY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    // Run from the repository root, like scripts/consul-binary.sh (npm scripts and jest both do).
    const path = execFileSync('bash', ['scripts/toxiproxy-binary.sh'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    process.env.TOXIPROXY_BIN = path;
    return path;
  } catch (error) {
    throw new Error(
      'the chaos tests need toxiproxy-server and scripts/toxiproxy-binary.sh could not provide one (it needs Go and the module proxy; see above), or set TOXIPROXY_BIN',
      { cause: error },
    );
  }
}
