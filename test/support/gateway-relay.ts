import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface RelayCounters {
  connections: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * The stand-in for an Envoy mesh gateway in tests. For peering control-plane traffic a mesh gateway
 * only relays TLS bytes (routed by SNI, never decrypted), so a plain TCP relay registered as a
 * `kind: mesh-gateway` service carries exactly the same traffic, and its counters prove that the
 * handshake and the replication stream went through it. Production gateways are Envoy.
 */
export class TcpGatewayRelay {
  readonly counters: RelayCounters = { connections: 0, bytesIn: 0, bytesOut: 0 };
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: { host: string; port: number } | undefined,
  ) {
    server.on('connection', (client) => {
      this.relay(client);
    });
  }

  static async listen(target?: { host: string; port: number }): Promise<TcpGatewayRelay> {
    const server = createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('relay has no port'));
        else resolve(address.port);
      });
    });
    return new TcpGatewayRelay(server, port, target);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Where new connections go; set later when the target does not exist yet (the peer's relay). */
  forwardTo(target: { host: string; port: number }): void {
    this.target = target;
  }

  private relay(client: Socket): void {
    this.#sockets.add(client);
    client.once('close', () => this.#sockets.delete(client));
    const target = this.target;
    if (target === undefined) {
      client.destroy();
      return;
    }
    this.counters.connections += 1;
    const upstream = createConnection(target);
    this.#sockets.add(upstream);
    upstream.once('close', () => this.#sockets.delete(upstream));
    client.on('data', (chunk: Buffer) => {
      this.counters.bytesIn += chunk.length;
    });
    upstream.on('data', (chunk: Buffer) => {
      this.counters.bytesOut += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', closeBoth);
    upstream.once('error', closeBoth);
    client.once('close', closeBoth);
    upstream.once('close', closeBoth);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
