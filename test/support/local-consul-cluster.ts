import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { freePorts } from './free-port';
import { OwnedProcess } from './owned-process';
import { pollUntil } from './poll';

/**
 * How the agent serves its API: plain HTTP (the default), HTTPS only (`https`), or HTTPS that
 * requires a client certificate (`mtls`: `verify_incoming = true`). HTTP is off with either TLS mode.
 */
export type ApiProtection = 'http' | 'https' | 'mtls';

/** PEM files made by Consul's own `consul tls ca create` / `consul tls cert create`. */
export interface ConsulTlsMaterial {
  /** The CA that signed the agent's HTTPS certificate (what a connection secret's caCert holds). */
  caCert: string;
  /** A client certificate and key signed by that CA (`consul tls cert create -client`). */
  clientCert: string;
  clientKey: string;
}

export interface ConsulClusterOptions {
  api?: ApiProtection;
}

const run = promisify(execFile);

export interface ConsulPorts {
  /** The API port: HTTP, or HTTPS when the API is protected by TLS. */
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
  private constructor(
    readonly datacenter: string,
    readonly ports: ConsulPorts,
    readonly managementToken: string,
    private readonly process: OwnedProcess,
    private readonly dataDir: string,
    readonly api: ApiProtection = 'http',
    /** Set when the API is HTTPS. */
    readonly tls?: ConsulTlsMaterial,
  ) {}

  static readonly #running = new Set<LocalConsulCluster>();

  /** The clusters started in this process and not stopped yet (their logs go with a failing test). */
  static running(): LocalConsulCluster[] {
    return [...LocalConsulCluster.#running];
  }

  get address(): string {
    return `${this.api === 'http' ? 'http' : 'https'}://127.0.0.1:${this.ports.http}`;
  }

  /** What a connection secret needs besides address and token to reach this agent's API. */
  get connectionTls(): { caCert?: string; clientCert?: string; clientKey?: string } {
    if (this.tls === undefined) return {};
    return this.api === 'mtls'
      ? { caCert: this.tls.caCert, clientCert: this.tls.clientCert, clientKey: this.tls.clientKey }
      : { caCert: this.tls.caCert };
  }

  /** The agent's log so far (printed by tests when they fail). */
  get log(): string {
    return this.process.output;
  }

  static async start(
    binary: string,
    datacenter: string,
    options: ConsulClusterOptions = {},
  ): Promise<LocalConsulCluster> {
    let lastFailure = '';
    // A free port can be taken by someone else between probing and binding; retry with new ones.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cluster = await LocalConsulCluster.launch(binary, datacenter, options.api ?? 'http');
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
    api: ApiProtection,
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
    const tls = api === 'http' ? undefined : await makeTlsFiles(binary, dataDir, datacenter);
    // Only the HTTPS listener gets our certificates: peering's gRPC TLS keeps the Connect CA's.
    const tlsConfig =
      tls === undefined
        ? ''
        : `
tls {
  https {
    ca_file = "${tls.files.caFile}"
    cert_file = "${tls.files.certFile}"
    key_file = "${tls.files.keyFile}"
    verify_incoming = ${api === 'mtls' ? 'true' : 'false'}
  }
}
`;
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
  http = ${api === 'http' ? http : -1}
  https = ${api === 'http' ? -1 : http}
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
${tlsConfig}`;
    const configFile = join(dataDir, 'agent.hcl');
    await writeFile(configFile, config, { mode: 0o600 });
    const agent = new OwnedProcess(
      `consul ${datacenter}`,
      binary,
      ['agent', '-dev', `-config-file=${configFile}`],
      { removeOnOrphan: dataDir },
    );
    return new LocalConsulCluster(datacenter, ports, managementToken, agent, dataDir, api, tls?.material);
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
        const roots = (await this.getJson('/v1/connect/ca/roots')) as { Roots?: unknown[] } | undefined;
        return (roots?.Roots?.length ?? 0) > 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  /** For the helper's own reads of a TLS agent: trusts its CA and presents the client certificate. */
  #dispatcher: Agent | undefined;

  private async getJson(path: string): Promise<unknown> {
    if (this.tls !== undefined && this.#dispatcher === undefined) {
      this.#dispatcher = new Agent({
        connect: { ca: this.tls.caCert, cert: this.tls.clientCert, key: this.tls.clientKey },
      });
    }
    const response = await fetch(`${this.address}${path}`, {
      headers: { 'X-Consul-Token': this.managementToken },
      signal: AbortSignal.timeout(2_000),
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
    });
    if (!response.ok) return undefined;
    return response.json();
  }

  async stop(): Promise<void> {
    LocalConsulCluster.#running.delete(this);
    await this.#dispatcher?.close();
    await this.process.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * A CA, a server certificate for `datacenter` and a client certificate, made in `dir` by Consul's own
 * commands (NOTES.md): `consul tls ca create` writes consul-agent-ca.pem and its key,
 * `consul tls cert create -server -dc DC` writes DC-server-consul-0.pem (names server.DC.consul,
 * localhost and 127.0.0.1) and `-client` writes DC-client-consul-0.pem.
 */
async function makeTlsFiles(
  binary: string,
  dir: string,
  datacenter: string,
): Promise<{ files: { caFile: string; certFile: string; keyFile: string }; material: ConsulTlsMaterial }> {
  await run(binary, ['tls', 'ca', 'create'], { cwd: dir });
  await run(binary, ['tls', 'cert', 'create', '-server', '-dc', datacenter], { cwd: dir });
  await run(binary, ['tls', 'cert', 'create', '-client', '-dc', datacenter], { cwd: dir });
  const path = (name: string): string => join(dir, name);
  const files = {
    caFile: path('consul-agent-ca.pem'),
    certFile: path(`${datacenter}-server-consul-0.pem`),
    keyFile: path(`${datacenter}-server-consul-0-key.pem`),
  };
  return {
    files,
    material: {
      caCert: await readFile(files.caFile, 'utf8'),
      clientCert: await readFile(path(`${datacenter}-client-consul-0.pem`), 'utf8'),
      clientKey: await readFile(path(`${datacenter}-client-consul-0-key.pem`), 'utf8'),
    },
  };
}

/** Starts `count` datacenters (dc1, dc2, …) in parallel. On failure, stops any that did start. */
export async function startConsulClusters(
  count: number,
  {
    binary = consulBinary(),
    prefix = 'dc',
    api = 'http',
  }: { binary?: string; prefix?: string; api?: ApiProtection } = {},
): Promise<LocalConsulCluster[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => LocalConsulCluster.start(binary, `${prefix}${i + 1}`, { api })),
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
