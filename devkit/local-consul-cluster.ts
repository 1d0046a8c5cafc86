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
 * `dev`: `consul agent -dev`, everything in memory (a restart is a new, empty cluster; fastest to start).
 * `server`: a real single server, `-server -bootstrap-expect=1 -data-dir DIR`, whose Raft state
 * (peerings, ACLs, config entries, the CA) survives `kill()` + `restart()`.
 */
export type ConsulMode = 'dev' | 'server';

export interface StartConsulOptions {
  mode?: ConsulMode;
  api?: ApiProtection;
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
    readonly api: ApiProtection = 'http',
    /** Set when the API is HTTPS. */
    readonly tls?: ConsulTlsMaterial,
  ) {
    this.#process = this.spawn();
  }

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
    { mode = 'dev', api = 'http' }: StartConsulOptions = {},
  ): Promise<LocalConsulCluster> {
    let lastFailure = '';
    // A free port can be taken by someone else between probing and binding; retry with new ones.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const cluster = await LocalConsulCluster.launch(binary, datacenter, mode, api);
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
    await writeFile(join(dataDir, 'agent.hcl'), config, { mode: 0o600 });
    return new LocalConsulCluster(
      datacenter,
      ports,
      managementToken,
      mode,
      binary,
      dataDir,
      api,
      tls?.material,
    );
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
    await this.#process.stop();
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
    mode = 'dev',
    api = 'http',
  }: { binary?: string; prefix?: string; mode?: ConsulMode; api?: ApiProtection } = {},
): Promise<LocalConsulCluster[]> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      LocalConsulCluster.start(binary, `${prefix}${i + 1}`, { mode, api }),
    ),
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
