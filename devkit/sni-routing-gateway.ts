import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readClientHello } from './tls-client-hello';

/** Connections and bytes; `bytesIn` is what clients sent towards the destination, `bytesOut` the replies. */
export interface Traffic {
  connections: number;
  bytesIn: number;
  bytesOut: number;
}

/** Where a gateway runs: its datacenter, that datacenter's trust domain, its server's gRPC TLS port. */
export interface GatewayHome {
  datacenter: string;
  trustDomain: string;
  ports: { grpcTls: number };
}

export interface GatewayCounters {
  /** By destination datacenter; the gateway's own datacenter is its local route. */
  readonly routes: ReadonlyMap<string, Traffic>;
  /** Everything routed, all routes together. */
  readonly total: Traffic;
  /** Connections that sent bytes no route matches (not TLS, no SNI, an unknown name); each was closed. */
  unrouted: number;
  /** Connections closed before sending a byte: the `mesh-gateway listening` TCP health check. */
  probes: number;
}

/**
 * The TLS server name Consul dials a peer's servers with for peering control-plane traffic (the
 * secret exchange and the replication stream): `connect.PeeringServerSAN` in Consul's source, also
 * the token's `ServerName`. A mesh gateway routes on exactly this name.
 */
export function peeringServerName(datacenter: string, trustDomain: string): string {
  return `server.${datacenter}.peering.${trustDomain}`.toLowerCase();
}

/** A client that sends nothing routable for this long is closed, as Envoy's listener filter timeout does. */
const CLIENT_HELLO_TIMEOUT_MS = 10_000;
/** Unrouted connections whose reason is kept, for a failing test to print. */
const KEPT_REASONS = 20;

/**
 * The stand-in for an Envoy mesh gateway in tests, benches and the demo (production gateways are
 * Envoy, which cannot be installed here). For peering control-plane traffic a mesh gateway never
 * decrypts anything: it reads the server name (SNI) of each connection's TLS ClientHello and relays
 * the bytes, unchanged, to where that name is served. So does this relay:
 * - `server.<own dc>.peering.<own trust domain>` goes to its own server's gRPC TLS port (the local
 *   route: the accepting side);
 * - `server.<peer dc>.peering.<peer trust domain>` goes to that peer's gateway, its WAN address (a
 *   remote route: the dialing side);
 * - anything else is closed and counted as `unrouted`, never sent somewhere by default.
 * Per-route counters then prove which gateways a peering's handshake and stream went through, and
 * one gateway can serve a cluster that accepts some peerings and dials others (a full mesh).
 */
export class SniRoutingGateway {
  readonly datacenter: string;
  readonly trustDomain: string;
  readonly counters: GatewayCounters;
  /** Why connections went unrouted (the first few), to make a failing assertion say why. */
  readonly unroutedReasons: string[] = [];
  readonly #routes = new Map<string, Traffic>();
  readonly #total: Traffic = { connections: 0, bytesIn: 0, bytesOut: 0 };
  /** By server name: the datacenter counted and where its connections go. */
  readonly #targets = new Map<string, { datacenter: string; port: number }>();
  readonly #sockets = new Set<Socket>();

  private constructor(
    home: GatewayHome,
    private readonly server: Server,
    readonly port: number,
  ) {
    this.datacenter = home.datacenter;
    this.trustDomain = home.trustDomain;
    this.counters = { routes: this.#routes, total: this.#total, unrouted: 0, probes: 0 };
    this.#targets.set(peeringServerName(home.datacenter, home.trustDomain), {
      datacenter: home.datacenter,
      port: home.ports.grpcTls,
    });
    server.on('connection', (client) => {
      this.#accept(client);
    });
  }

  /** A gateway on a free loopback port with its local route; add remote routes with `routeTo`. */
  static async listen(home: GatewayHome): Promise<SniRoutingGateway> {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('gateway has no port'));
        else resolve(address.port);
      });
    });
    return new SniRoutingGateway(home, server, port);
  }

  /** Its LAN and WAN address (one loopback listener serves both). */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * A remote route: connections for `peer`'s servers go to `peer`'s gateway, or to `viaPort` when
   * something sits between the two (the chaos tests' toxiproxy).
   */
  routeTo(peer: SniRoutingGateway, viaPort: number = peer.port): void {
    if (peer.datacenter === this.datacenter) {
      throw new Error(`gateway ${this.datacenter}: a remote route to its own datacenter`);
    }
    this.#targets.set(peeringServerName(peer.datacenter, peer.trustDomain), {
      datacenter: peer.datacenter,
      port: viaPort,
    });
  }

  /** What went to `datacenter` (its own: the local route); zeroes when nothing did. */
  routed(datacenter: string): Traffic {
    return { ...(this.#routes.get(datacenter) ?? { connections: 0, bytesIn: 0, bytesOut: 0 }) };
  }

  #accept(client: Socket): void {
    this.#track(client);
    let received = Buffer.alloc(0);
    const settle = (): void => {
      clearTimeout(timer);
      client.pause();
      client.off('data', onData);
      client.off('close', onClose);
    };
    const refuse = (reason: string): void => {
      settle();
      this.counters.unrouted += 1;
      if (this.unroutedReasons.length < KEPT_REASONS) this.unroutedReasons.push(reason);
      client.destroy();
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const hello = readClientHello(received);
      if (hello.status === 'incomplete') return;
      const name = hello.status === 'complete' ? hello.serverName?.toLowerCase() : undefined;
      const target = name === undefined ? undefined : this.#targets.get(name);
      if (target !== undefined) {
        settle();
        this.#forward(client, target, received);
      } else if (hello.status === 'invalid') refuse(hello.reason);
      else refuse(name === undefined ? 'a ClientHello without SNI' : `no route for SNI "${name}"`);
    };
    const onClose = (): void => {
      if (received.length === 0) {
        settle();
        this.counters.probes += 1;
      } else refuse(`closed after ${received.length} bytes, before its ClientHello was complete`);
    };
    const timer = setTimeout(() => {
      refuse(`no ClientHello within ${CLIENT_HELLO_TIMEOUT_MS} ms`);
    }, CLIENT_HELLO_TIMEOUT_MS);
    client.on('data', onData);
    client.on('close', onClose);
    client.on('error', () => client.destroy()); // 'close' follows
  }

  #forward(client: Socket, target: { datacenter: string; port: number }, hello: Buffer): void {
    const route = this.#routes.get(target.datacenter) ?? { connections: 0, bytesIn: 0, bytesOut: 0 };
    this.#routes.set(target.datacenter, route);
    const count = (field: keyof Traffic, n: number): void => {
      route[field] += n;
      this.#total[field] += n;
    };
    count('connections', 1);
    count('bytesIn', hello.length);
    const upstream = createConnection({ host: '127.0.0.1', port: target.port });
    this.#track(upstream);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', closeBoth);
    upstream.once('close', closeBoth);
    client.once('close', closeBoth);
    client.on('data', (chunk: Buffer) => {
      count('bytesIn', chunk.length);
    });
    upstream.on('data', (chunk: Buffer) => {
      count('bytesOut', chunk.length);
    });
    upstream.write(hello);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * One gateway per cluster, each with its local route and a remote route to every other cluster's
 * gateway: any of them can accept from or dial any other, as in a full mesh of Envoy gateways.
 */
export async function startMeshGateways(homes: readonly GatewayHome[]): Promise<SniRoutingGateway[]> {
  const gateways = await Promise.all(homes.map((home) => SniRoutingGateway.listen(home)));
  for (const gateway of gateways) {
    for (const peer of gateways) if (peer !== gateway) gateway.routeTo(peer);
  }
  return gateways;
}
