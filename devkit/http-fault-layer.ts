import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';

/** One request as the fault layer sees it (AWS JSON protocols name the operation in X-Amz-Target). */
export interface RequestInfo {
  method: string;
  path: string;
  /** e.g. `secretsmanager.PutSecretValue`, `AmazonSQS.SendMessage`; '' for Consul. */
  target: string;
}

/** What the layer does to a matching request instead of (or around) forwarding it. */
export type FaultAction =
  /** Answer with this status and body; the request never reaches the upstream. */
  | { kind: 'respond'; status: number; body: string; headers?: Record<string, string> }
  /** Hold the request for `ms`, then drop the connection without an answer (a timeout). */
  | { kind: 'hang'; ms: number }
  /** Run `before` (e.g. kill the caller), then drop the connection: the request never happened. */
  | { kind: 'drop-before'; before: (info: RequestInfo) => Promise<void> }
  /** Forward, then run `after` once the upstream answered, then drop: it happened, the caller never knew. */
  | { kind: 'drop-after'; after: (info: RequestInfo, status: number) => Promise<void> };

export interface FaultRule {
  match: (info: RequestInfo) => boolean;
  action: FaultAction;
  /** How many matching requests get the fault (default: every one until removed). */
  times?: number;
}

export interface FaultHandle {
  /** Matching requests that got the fault so far: what proves a scenario injected something. */
  readonly served: number;
  remove(): void;
}

/**
 * A thin HTTP fault layer: a reverse proxy on a free loopback port in front of one upstream (moto, or
 * a Consul agent's HTTP API). Requests pass through unchanged unless a rule matches; then the layer
 * answers an AWS-style 5xx or throttling error, holds the request (a timeout), or lets a test crash
 * the caller just before or just after the request takes effect. toxiproxy works below, on TCP; this
 * works on requests, which TCP faults cannot name.
 */
export class HttpFaultLayer {
  readonly counters = { requests: 0, forwarded: 0, upstreamErrors: 0, injected: 0 };
  readonly #rules = new Set<{ rule: FaultRule; served: number }>();
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly upstream: { host: string; port: number },
  ) {
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      void this.handle(req, res);
    });
  }

  static async listen(upstream: { host: string; port: number }): Promise<HttpFaultLayer> {
    const server = createServer();
    // Bigger than any SDK or Consul client timeout: the layer never times out a request itself.
    server.requestTimeout = 0;
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('fault layer has no port'));
        else resolve(address.port);
      });
    });
    return new HttpFaultLayer(server, port, upstream);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  inject(rule: FaultRule): FaultHandle {
    const entry = { rule, served: 0 };
    this.#rules.add(entry);
    return {
      get served() {
        return entry.served;
      },
      remove: () => this.#rules.delete(entry),
    };
  }

  clear(): void {
    this.#rules.clear();
  }

  private take(info: RequestInfo): FaultAction | undefined {
    for (const entry of this.#rules) {
      if (!entry.rule.match(info)) continue;
      entry.served += 1;
      if (entry.rule.times !== undefined && entry.served >= entry.rule.times) this.#rules.delete(entry);
      this.counters.injected += 1;
      return entry.rule.action;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const targetHeader = req.headers['x-amz-target'];
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      target: typeof targetHeader === 'string' ? targetHeader : '',
    };
    const action = this.take(info);
    if (action?.kind === 'respond') {
      res.writeHead(action.status, { 'content-type': 'application/x-amz-json-1.1', ...action.headers });
      res.end(action.body);
      return;
    }
    if (action?.kind === 'hang') {
      await new Promise((resolve) => setTimeout(resolve, action.ms));
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'drop-before') {
      await action.before(info);
      req.socket.destroy();
      return;
    }
    let answer: { status: number; headers: IncomingMessage['headers']; body: Buffer };
    try {
      answer = await this.forward(req, body);
    } catch {
      // The upstream is down (toxiproxy disabled, agent killed): the caller sees its connection drop.
      this.counters.upstreamErrors += 1;
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'drop-after') {
      await action.after(info, answer.status);
      req.socket.destroy();
      return;
    }
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    delete headers.connection;
    headers['content-length'] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.upstream.host,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: `${this.upstream.host}:${this.upstream.port}` },
          agent: false,
        },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (chunk: Buffer) => parts.push(chunk));
          response.once('end', () => {
            this.counters.forwarded += 1;
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(parts),
            });
          });
          response.once('error', reject);
        },
      );
      upstream.once('error', reject);
      upstream.end(body);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** AWS JSON-protocol error answers, as Secrets Manager and SQS send them (the SDK classifies by `__type`). */
export const awsErrors = {
  serverError: (): FaultAction => ({
    kind: 'respond',
    status: 500,
    body: JSON.stringify({ __type: 'InternalFailure', message: 'injected by the chaos fault layer' }),
    headers: { 'x-amzn-errortype': 'InternalFailure' },
  }),
  throttle: (): FaultAction => ({
    kind: 'respond',
    status: 400,
    body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded (injected)' }),
    headers: { 'x-amzn-errortype': 'ThrottlingException' },
  }),
};
