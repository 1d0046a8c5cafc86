import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './free-port';
import { OwnedProcess } from './owned-process';
import { pollUntil } from './poll';

export interface ConsulPorts {
  http: number;
  serfLan: number;
  serfWan: number;
  server: number;
  grpcTls: number;
}

/**
 * `dev`: `consul agent -dev`, everything in memory (a restart is a new, empty cluster; fastest to start).
 * `server`: a real single server, `-server -bootstrap-expect=1 -data-dir DIR`, whose Raft state
 * (peerings, ACLs, config entries, the CA) survives `kill()` + `restart()`.
 */
export type ConsulMode = 'dev' | 'server';

export interface StartConsulOptions {
  mode?: ConsulMode;
}

/**
 * One real Consul datacenter on loopback: a single server with its own ports, ACLs on (default deny),
 * Connect and peering on, gRPC TLS on (peering needs it). The management token doubles as the agent
 * token so the agent's own catalog sync is not blocked by the deny policy.
 */
export class LocalConsulCluster {
  #trustDomain: string | undefined;
  #process: OwnedProcess;

  private constructor(
    readonly datacenter: string,
    readonly ports: ConsulPorts,
    readonly managementToken: string,
    readonly mode: ConsulMode,
    private readonly binary: string,
    private readonly dataDir: string,
  ) {
    this.#process = this.spawn();
  }

  static readonly #running = new Set<LocalConsulCluster>();

  /** The clusters started in this process and not stopped yet (their logs go with a failing test). */
  static running(): LocalConsulCluster[] {
    return [...LocalConsulCluster.#running];
  }

  get address(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  /** The Connect CA's trust domain (`<cluster id>.consul`), part of the SNI peers dial its servers with. */
  get trustDomain(): string {
    if (this.#trustDomain === undefined) throw new Error(`Consul ${this.datacenter} is not ready yet`);
    return this.#trustDomain;
  }

  /** The agent's log so far (printed by tests when they fail). */
  get log(): string {
    return this.#previousLogs + this.#process.output;
  }

  #previousLogs = '';

  /** The agent's process id (a new one after each restart). */
  get pid(): number | undefined {
    return this.#process.pid;
  }

  get running(): boolean {
    return this.#process.running;
  }

  static async start(
    binary: string,
    datacenter: string,
    { mode = 'dev' }: StartConsulOptions = {},
  ): Promise<LocalConsulCluster> {
    let lastFailure = '';
    // A free port can be taken by someone else between probing and binding; retry with new ones.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cluster = await LocalConsulCluster.launch(binary, datacenter, mode);
      try {
        await cluster.waitUntilReady();
        LocalConsulCluster.#running.add(cluster);
        return cluster;
      } catch (error) {
        lastFailure = `${error instanceof Error ? error.message : String(error)}\n--- consul ${datacenter} log ---\n${cluster.log.slice(-4000)}`;
        await cluster.stop();
      }
    }
    throw new Error(`Consul datacenter ${datacenter} did not become ready: ${lastFailure}`);
  }

  private static async launch(
    binary: string,
    datacenter: string,
    mode: ConsulMode,
  ): Promise<LocalConsulCluster> {
    const [http, serfLan, serfWan, server, grpcTls] = (await freePorts(5)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const ports: ConsulPorts = { http, serfLan, serfWan, server, grpcTls };
    const managementToken = randomUUID();
    const dataDir = await mkdtemp(join(tmpdir(), `consul-${datacenter}-`));
    const config = `
datacenter = "${datacenter}"
node_name = "${datacenter}-server"
server = true
${
  mode === 'dev'
    ? 'bootstrap = true'
    : // A lone server that must find its Raft state again after a restart: bootstrap_expect, a data dir,
      // and Raft timings at their fastest (multiplier 1, as -dev uses) so a restarted server leads in ~1 s.
      `bootstrap_expect = 1
data_dir = "${join(dataDir, 'data')}"
performance { raft_multiplier = 1 }`
}
bind_addr = "127.0.0.1"
client_addr = "127.0.0.1"
advertise_addr_wan = "127.0.0.1"
log_level = "debug"
ports {
  http = ${http}
  https = -1
  dns = -1
  serf_lan = ${serfLan}
  serf_wan = ${serfWan}
  server = ${server}
  grpc = -1
  grpc_tls = ${grpcTls}
}
connect { enabled = true }
peering { enabled = true }
acl {
  enabled = true
  default_policy = "deny"
  enable_token_persistence = false
  tokens {
    initial_management = "${managementToken}"
    agent = "${managementToken}"
  }
}
`;
    await writeFile(join(dataDir, 'agent.hcl'), config, { mode: 0o600 });
    return new LocalConsulCluster(datacenter, ports, managementToken, mode, binary, dataDir);
  }

  private spawn(): OwnedProcess {
    const args = ['agent', `-config-file=${join(this.dataDir, 'agent.hcl')}`];
    return new OwnedProcess(
      `consul ${this.datacenter}`,
      this.binary,
      this.mode === 'dev' ? [...args, '-dev'] : args,
      {
        removeOnOrphan: this.dataDir,
      },
    );
  }

  /**
   * A crash: SIGKILL to the agent, no graceful leave. Resolves with how it ended, so a test can assert
   * the fault really happened. Only a `server`-mode cluster comes back with its state from `restart()`.
   */
  async kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const ended = await this.#process.kill('SIGKILL');
    this.#previousLogs += `${this.#process.output}\n--- killed (${String(ended.signal ?? ended.code)}) ---\n`;
    return ended;
  }

  /** Starts the agent again on the same ports and data dir, and waits until it serves requests again. */
  async restart(): Promise<void> {
    if (this.mode !== 'server')
      throw new Error(`Consul ${this.datacenter} runs -dev (in memory): a restart would lose its state`);
    if (this.#process.running) await this.kill();
    this.#process = this.spawn();
    await this.waitUntilReady();
  }

  /**
   * A leader is elected, the Connect CA has roots (token generation fails before that) and the ACL
   * system answers for the management token (after a restart it resolves tokens only once the leader
   * has loaded its state).
   */
  private async waitUntilReady(): Promise<void> {
    await pollUntil(
      `Consul ${this.datacenter} to elect a leader, initialise its CA and resolve ACL tokens`,
      async () => {
        if (!this.#process.running)
          throw new Error(`consul agent exited early (code ${String(await this.#process.exited())})`);
        const leader = await this.getJson('/v1/status/leader');
        if (typeof leader !== 'string' || leader === '') return undefined;
        const roots = (await this.getJson('/v1/connect/ca/roots')) as
          { Roots?: unknown[]; TrustDomain?: string } | undefined;
        if ((roots?.Roots?.length ?? 0) === 0 || !roots?.TrustDomain) return undefined;
        this.#trustDomain = roots.TrustDomain;
        const self = (await this.getJson('/v1/acl/token/self')) as { AccessorID?: unknown } | undefined;
        return typeof self?.AccessorID === 'string' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  private async getJson(path: string): Promise<unknown> {
    const response = await fetch(`${this.address}${path}`, {
      headers: { 'X-Consul-Token': this.managementToken },
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) return undefined;
    return response.json();
  }

  async stop(): Promise<void> {
    LocalConsulCluster.#running.delete(this);
    await this.#process.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts `count` datacenters (dc1, dc2, …) in parallel. On failure, stops any that did start. */
export async function startConsulClusters(
  count: number,
  {
    binary = consulBinary(),
    prefix = 'dc',
    mode = 'dev',
  }: { binary?: string; prefix?: string; mode?: ConsulMode } = {},
): Promise<LocalConsulCluster[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => LocalConsulCluster.start(binary, `${prefix}${i + 1}`, { mode })),
  );
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((c) => c.stop()));
    throw failed.reason;
  }
  return started;
}

/** The binary chosen by global setup (or by the user through CONSUL_BIN). */
export function consulBinary(): string {
  const binary = process.env.CONSUL_BIN;
  if (binary === undefined || binary === '') {
    throw new Error(
      'CONSUL_BIN is not set: integration tests need a real Consul binary. Run them through `npm test` or ' +
        '`npm run test:integration` (global setup runs `npm run consul:path`), or export CONSUL_BIN=/path/to/consul.',
    );
  }
  return binary;
}
