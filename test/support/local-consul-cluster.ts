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
 * One real Consul datacenter on loopback: a single `consul agent -dev` server with its own ports,
 * ACLs on (default deny), Connect and peering on, gRPC TLS on (peering needs it). The management
 * token doubles as the agent token so the agent's own catalog sync is not blocked by the deny policy.
 */
export class LocalConsulCluster {
  #trustDomain: string | undefined;

  private constructor(
    readonly datacenter: string,
    readonly ports: ConsulPorts,
    readonly managementToken: string,
    private readonly process: OwnedProcess,
    private readonly dataDir: string,
  ) {}

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
    return this.process.output;
  }

  static async start(binary: string, datacenter: string): Promise<LocalConsulCluster> {
    let lastFailure = '';
    // A free port can be taken by someone else between probing and binding; retry with new ones.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cluster = await LocalConsulCluster.launch(binary, datacenter);
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

  private static async launch(binary: string, datacenter: string): Promise<LocalConsulCluster> {
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
bootstrap = true
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
    const configFile = join(dataDir, 'agent.hcl');
    await writeFile(configFile, config, { mode: 0o600 });
    const agent = new OwnedProcess(
      `consul ${datacenter}`,
      binary,
      ['agent', '-dev', `-config-file=${configFile}`],
      { removeOnOrphan: dataDir },
    );
    return new LocalConsulCluster(datacenter, ports, managementToken, agent, dataDir);
  }

  /** A leader is elected and the Connect CA has roots (token generation fails before that). */
  private async waitUntilReady(): Promise<void> {
    await pollUntil(
      `Consul ${this.datacenter} to elect a leader and initialise its CA`,
      async () => {
        if (!this.process.running)
          throw new Error(`consul agent exited early (code ${String(await this.process.exited())})`);
        const leader = await this.getJson('/v1/status/leader');
        if (typeof leader !== 'string' || leader === '') return undefined;
        const roots = (await this.getJson('/v1/connect/ca/roots')) as
          { Roots?: unknown[]; TrustDomain?: string } | undefined;
        if ((roots?.Roots?.length ?? 0) === 0 || !roots?.TrustDomain) return undefined;
        this.#trustDomain = roots.TrustDomain;
        return true;
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
    await this.process.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** Starts `count` datacenters (dc1, dc2, …) in parallel. On failure, stops any that did start. */
export async function startConsulClusters(
  count: number,
  { binary = consulBinary(), prefix = 'dc' }: { binary?: string; prefix?: string } = {},
): Promise<LocalConsulCluster[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => LocalConsulCluster.start(binary, `${prefix}${i + 1}`)),
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
