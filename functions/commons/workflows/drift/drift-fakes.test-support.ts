import { SecretBackedClusterDirectory } from '../../clusters';
import { ConsulError } from '#commons/ports/consul-error';
import type { AclToken, HealthServiceInstance, Peering, PeeringState } from '../../ports/consul-types';
import type { PipelineEvent } from '../../events';
import {
  clusterSecretName,
  gatewayTokenSecretName,
  peeringRecordSecretName,
  peeringTokenSecretName,
} from '../../naming';
import type { ConsulApi } from '../../ports/consul-api';
import type {
  PutSecretOptions,
  SecretStore,
  SecretSummary,
  SecretValue,
  SecretVersionSelector,
} from '../../ports/secret-store';
import type { WorkflowContext } from '../context';
import { DEFAULT_SETTINGS } from '../context';

export const PREFIX = 'p';
export const NOW = new Date('2025-06-01T12:00:00Z');

/** A Secrets-Manager-like store in memory (versions are counters). */
export class MemorySecretStore implements SecretStore {
  readonly values = new Map<string, SecretValue>();
  readonly deleted: { name: string; force: boolean }[] = [];
  /** The options of each secret's creating put (tags are applied when a secret is created). */
  readonly created = new Map<string, PutSecretOptions | undefined>();
  writes = 0;

  put(name: string, value: string, options?: PutSecretOptions) {
    const current = this.values.get(name);
    if (current === undefined) this.created.set(name, options);
    if (current?.value === value) return Promise.resolve({ versionId: current.versionId, changed: false });
    this.writes += 1;
    const versionId = `v${this.writes}`;
    this.values.set(name, { name, versionId, value });
    return Promise.resolve({ versionId, changed: true });
  }

  /** Keeps one version: any other label or version is absent. */
  get(name: string, selector: SecretVersionSelector = {}) {
    const current = this.values.get(name);
    const other =
      (selector.versionStage !== undefined && selector.versionStage !== 'AWSCURRENT') ||
      (selector.versionId !== undefined && selector.versionId !== current?.versionId);
    return Promise.resolve(other ? undefined : current);
  }

  list({ namePrefix = '' }: { namePrefix?: string }): Promise<SecretSummary[]> {
    return Promise.resolve(
      [...this.values.keys()].filter((n) => n.startsWith(namePrefix)).map((name) => ({ name, tags: {} })),
    );
  }

  delete(name: string, options: { forceWithoutRecovery?: boolean } = {}) {
    this.deleted.push({ name, force: options.forceWithoutRecovery === true });
    this.values.delete(name);
    return Promise.resolve();
  }
}

export function peering(name: string, state: PeeringState, id = `${name}-id`): Peering {
  return {
    id,
    name,
    partition: undefined,
    state,
    rawState: state,
    peerId: undefined,
    peerServerName: undefined,
    peerServerAddresses: [],
    peerCaPems: [],
    meta: {},
    deletedAt: undefined,
    remote: undefined,
    stream: {
      importedServices: [],
      exportedServices: [],
      importedServiceCount: 0,
      exportedServiceCount: 0,
      lastHeartbeat: undefined,
      lastReceive: undefined,
      lastSend: undefined,
    },
    createIndex: 1,
    modifyIndex: 1,
  };
}

export function gateway(status: HealthServiceInstance['status'] = 'passing'): HealthServiceInstance {
  return {
    node: { name: 'n1', address: '10.0.0.1', datacenter: undefined, taggedAddresses: {} },
    service: {
      id: 'mesh-gateway',
      name: 'mesh-gateway',
      kind: 'mesh-gateway',
      address: '10.0.0.1',
      port: 8443,
      taggedAddresses: {},
      meta: {},
      tags: [],
    },
    checks: [],
    status,
  };
}

/** One fake cluster's Consul state; every call is recorded, and every write throws. */
export interface FakeCluster {
  mesh: Record<string, unknown> | undefined;
  gateways: HealthServiceInstance[];
  peerings: Peering[];
  tokens: Set<string>;
  /** Makes every call fail like an unreachable agent. */
  failWith?: Error;
  calls: string[];
  /** Milliseconds each call takes (to observe concurrency). */
  latencyMs: number;
}

export function fakeCluster(overrides: Partial<FakeCluster> = {}): FakeCluster {
  return {
    mesh: { Kind: 'mesh', Peering: { PeerThroughMeshGateways: true } },
    gateways: [gateway()],
    peerings: [],
    tokens: new Set(),
    calls: [],
    latencyMs: 0,
    ...overrides,
  };
}

function fakeApi(cluster: FakeCluster, inFlight: { now: number; max: number }): ConsulApi {
  const call = async <T>(method: string, answer: () => T): Promise<T> => {
    cluster.calls.push(method);
    inFlight.now += 1;
    inFlight.max = Math.max(inFlight.max, inFlight.now);
    try {
      await new Promise((resolve) => setTimeout(resolve, cluster.latencyMs));
      if (cluster.failWith !== undefined) throw cluster.failWith;
      return answer();
    } finally {
      inFlight.now -= 1;
    }
  };
  const write = (method: string) => (): Promise<never> =>
    call(method, () => {
      throw new Error(`unexpected call ${method}`);
    });
  return {
    readConfigEntryRaw: (kind, name) =>
      call(`readConfigEntryRaw ${kind}/${name}`, () =>
        cluster.mesh === undefined ? undefined : { entry: { Kind: 'mesh', ...cluster.mesh }, modifyIndex: 7 },
      ),
    healthService: (name) => call(`healthService ${name}`, () => cluster.gateways),
    listPeerings: () => call('listPeerings', () => cluster.peerings),
    readToken: (accessorId) =>
      call('readToken', (): AclToken | undefined =>
        cluster.tokens.has(accessorId)
          ? { accessorId, description: '', policies: [], local: false, createIndex: 1, modifyIndex: 1 }
          : undefined,
      ),
    readPeering: (name) => call('readPeering', () => cluster.peerings.find((p) => p.name === name)),
    generatePeeringToken: write('generatePeeringToken'),
    establishPeering: write('establishPeering'),
    deletePeering: write('deletePeering'),
    writeConfigEntryCas: write('writeConfigEntryCas'),
    registerAgentService: write('registerAgentService'),
    readPolicyByName: write('readPolicyByName'),
    createPolicy: write('createPolicy'),
    updatePolicy: write('updatePolicy'),
    listTokensByPolicy: write('listTokensByPolicy'),
    deleteToken: write('deleteToken'),
    createToken: write('createToken'),
    readOwnToken: write('readOwnToken'),
    readKey: write('readKey'),
    writeKeyCas: write('writeKeyCas'),
    deleteKeyCas: write('deleteKeyCas'),
  };
}

export const unreachable = (): Error =>
  new ConsulError(
    'connection',
    { method: 'GET', path: '/v1/peerings' },
    undefined,
    'Consul GET /v1/peerings: connection refused',
    { failure: 'refused', code: 'ECONNREFUSED' },
  );

/** A fleet: the secrets as the pipeline writes them, and fake Consul agents. */
export class Fleet {
  readonly secrets = new MemorySecretStore();
  readonly clusters = new Map<string, FakeCluster>();
  readonly events: PipelineEvent[] = [];
  readonly inFlight = { now: 0, max: 0 };
  now = NOW;

  /** A registered, onboarded cluster: connection secret (with gateway addresses unless told), gateway token. */
  async addCluster(name: string, options: { gateway?: boolean; cluster?: Partial<FakeCluster> } = {}) {
    const accessorId = `${name}-accessor`;
    const cluster = fakeCluster({ tokens: new Set([accessorId]), ...options.cluster });
    this.clusters.set(name, cluster);
    const hostPort = { address: '10.0.0.1', port: 8443 };
    await this.secrets.put(
      clusterSecretName(PREFIX, name),
      JSON.stringify({
        address: `https://${name}.example:8501`,
        token: 't',
        ...(options.gateway === false ? {} : { gateway: { lan: hostPort, wan: hostPort } }),
      }),
    );
    await this.secrets.put(
      gatewayTokenSecretName(PREFIX, name),
      JSON.stringify({ accessorId, secretId: 's', policyName: 'gw', serviceName: 'mesh-gateway' }),
    );
    return cluster;
  }

  /** A wanted peering, ACTIVE on both sides, with its token secret (generated `ageMs` ago). */
  async addPeering(acceptor: string, dialer: string, ageMs = 60_000) {
    await this.secrets.put(
      peeringRecordSecretName(PREFIX, acceptor, dialer),
      JSON.stringify({ acceptor, dialer, exportServices: [] }),
    );
    await this.secrets.put(
      peeringTokenSecretName(PREFIX, acceptor, dialer),
      JSON.stringify({
        peeringToken: 'tok',
        peeringId: `${dialer}-id`,
        acceptor,
        dialer,
        generatedAt: new Date(this.now.getTime() - ageMs).toISOString(),
      }),
    );
    this.cluster(acceptor).peerings.push(peering(dialer, 'ACTIVE'));
    this.cluster(dialer).peerings.push(peering(acceptor, 'ACTIVE', `${acceptor}-dialer-id`));
  }

  cluster(name: string): FakeCluster {
    const found = this.clusters.get(name);
    if (found === undefined) throw new Error(`no fake cluster ${name}`);
    return found;
  }

  side(cluster: string, peer: string): Peering {
    const found = this.cluster(cluster).peerings.find((p) => p.name === peer);
    if (found === undefined) throw new Error(`no peering ${peer} on ${cluster}`);
    return found;
  }

  context(): WorkflowContext {
    // The real directory (it reads and validates the connection secrets), over fake Consul APIs found by
    // the cluster name in each connection's address (https://<name>.example:8501).
    const directory = new SecretBackedClusterDirectory(
      this.secrets,
      (connection) =>
        fakeApi(this.cluster(new URL(connection.address).hostname.split('.')[0] ?? ''), this.inFlight),
      PREFIX,
    );
    return {
      clusters: directory,
      secrets: this.secrets,
      events: {
        publish: (event) => {
          this.events.push(event);
          return Promise.resolve();
        },
      },
      clock: { now: () => this.now },
      log: { info: () => undefined, warn: () => undefined },
      settings: { ...DEFAULT_SETTINGS, secretPrefix: PREFIX },
    };
  }

  /** Every Consul call of every cluster. */
  calls(): string[] {
    return [...this.clusters.entries()].flatMap(([name, c]) => c.calls.map((m) => `${name} ${m}`));
  }
}
