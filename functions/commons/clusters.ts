import * as z from 'zod/mini';
import { ValidationError } from './errors';
import { DEFAULT_GATEWAY_SERVICE_NAME, MeshGatewaySchema, type ClusterRef } from './events';
import { clusterSecretName } from './naming';
import type { ConsulApi } from './ports/consul-api';
import type { SecretStore } from './ports/secret-store';

/**
 * Consul's HTTP(S) API as `http(s)://host:port` and nothing else: no credentials, path or query, and an
 * explicit port (Consul's API ports, 8500/8501, are never the scheme's default). One rule for the
 * connection secret, the config file of `npm start` and peerctl's `--address`.
 */
export function isConsulAddress(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    /:\d+\/?$/.test(value) &&
    url.username === '' &&
    url.password === '' &&
    (url.pathname === '/' || url.pathname === '') &&
    url.search === '' &&
    url.hash === ''
  );
}

/** The value of a cluster's connection secret (`<prefix>/clusters/<cluster>`). */
export const ClusterConnectionSchema = z.strictObject({
  /** Consul's HTTP(S) API, e.g. `https://consul.dc1.internal:8501`. */
  address: z.string().check(z.refine(isConsulAddress)),
  /** PEM of the CA that signed Consul's HTTPS certificate, when it is not a public one. */
  caCert: z.optional(z.string().check(z.minLength(1))),
  /**
   * PEM client certificate and its private key, for Consul agents that set `verify_incoming` on
   * HTTPS. Both or neither; the key lives only in this secret (ConsulClient checks they belong together).
   */
  clientCert: z.optional(z.string().check(z.minLength(1))),
  clientKey: z.optional(z.string().check(z.minLength(1))),
  /** The automation's Consul ACL token (see README, "The automation's Consul token"). */
  token: z.string().check(z.minLength(1)),
  /** Enterprise admin partition; omit on Consul CE. */
  partition: z.optional(z.string().check(z.minLength(1))),
  /** The mesh gateway's addresses, when the automation registers it: drift remediation re-registers from here. */
  gateway: z.optional(MeshGatewaySchema),
});
export type ClusterConnection = z.infer<typeof ClusterConnectionSchema>;

/** A registered cluster, resolved from one read of its connection secret. */
export interface ConnectedCluster {
  api: ConsulApi;
  connection: ClusterConnection;
  /** The mesh gateway service the workflows check: as registered with the cluster, else `mesh-gateway`. */
  gatewayService: string;
}

export interface ClusterDirectory {
  /** Throws ValidationError for an unknown cluster or a malformed connection secret. */
  connect(cluster: ClusterRef): Promise<ConnectedCluster>;
}

/**
 * Resolves clusters through their connection secrets. A message may only name the secret the naming
 * scheme gives for its cluster, so a crafted event cannot point a function at any other secret.
 * Clients are cached per secret version: a warm Lambda reuses its connections, a rotated secret
 * gets a new client.
 */
export class SecretBackedClusterDirectory implements ClusterDirectory {
  readonly #clients = new Map<string, { versionId: string; cluster: ConnectedCluster }>();

  constructor(
    private readonly secrets: SecretStore,
    private readonly createClient: (connection: ClusterConnection) => ConsulApi,
    private readonly secretPrefix: string,
  ) {}

  async connect(cluster: ClusterRef): Promise<ConnectedCluster> {
    const expected = clusterSecretName(this.secretPrefix, cluster.name);
    if (cluster.connectionSecret !== expected) {
      throw new ValidationError(
        `cluster "${cluster.name}": connectionSecret must be "${expected}" (the secret naming scheme)`,
        'connectionSecret',
      );
    }
    const secret = await this.secrets.get(expected);
    if (secret === undefined) {
      throw new ValidationError(
        `unknown cluster "${cluster.name}": there is no connection secret "${expected}"; register the cluster first (peerctl cluster add)`,
        'connectionSecret',
      );
    }
    const cached = this.#clients.get(expected);
    if (cached?.versionId === secret.versionId) return cached.cluster;
    const connection = parseConnection(cluster.name, secret.value);
    const connected: ConnectedCluster = {
      api: this.createClient(connection),
      connection,
      gatewayService: connection.gateway?.serviceName ?? DEFAULT_GATEWAY_SERVICE_NAME,
    };
    this.#clients.set(expected, { versionId: secret.versionId, cluster: connected });
    return connected;
  }
}

/** Parses a connection secret; errors name the field, never the value (it holds a token). */
export function parseConnection(cluster: string, value: string): ClusterConnection {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new ValidationError(
      `the connection secret of cluster "${cluster}" is not JSON`,
      'connectionSecret',
    );
  }
  const result = z.safeParse(ClusterConnectionSchema, json);
  if (result.success && (result.data.clientCert === undefined) !== (result.data.clientKey === undefined)) {
    const missing = result.data.clientCert === undefined ? 'clientCert' : 'clientKey';
    throw new ValidationError(
      `the connection secret of cluster "${cluster}" is invalid at "${missing}": clientCert and clientKey go together (a client certificate and its key)`,
      `connectionSecret.${missing}`,
    );
  }
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new ValidationError(
      `the connection secret of cluster "${cluster}" is invalid at "${field}": expected {address: "http(s)://host:port", token, caCert?, clientCert?, clientKey?, partition?, gateway?}`,
      `connectionSecret.${field}`,
    );
  }
  return result.data;
}
