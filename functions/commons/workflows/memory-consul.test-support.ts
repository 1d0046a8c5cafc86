import { peering } from './drift/drift-fakes.test-support';
import { randomUUID } from 'node:crypto';
import { ConsulError } from '#commons/ports/consul-error';
import type {
  AclPolicy,
  AclToken,
  AgentServiceRegistration,
  CheckStatus,
  ConfigEntry,
  HealthServiceInstance,
  Peering,
  RawConfigEntry,
} from '../ports/consul-types';
import { CONSUL_WRITE_METHODS, type ConsulApi } from '../ports/consul-api';
import { memoryKv } from './memory-kv.test-support';

/**
 * One Consul cluster in memory, with the semantics the onboarding, accept and dial workflows rely on:
 * config entries with ModifyIndex and `?cas=` writes, agent services and their health, peerings
 * created by token generation, ACL policies and tokens that refuse duplicates, and the pair lock's KV.
 * Every call is recorded in order (`calls`), so tests can pin what was written, and before what.
 * Establishing is modelled only as far as the dialer's own record goes (the acceptor's side is the
 * other cluster's: tests set it).
 */
export interface MemoryConsul extends ConsulApi {
  /** `method arg`, in call order (reads and writes). */
  readonly calls: string[];
  readonly configEntries: Map<string, RawConfigEntry>;
  readonly services: Map<string, HealthServiceInstance>;
  readonly peerings: Map<string, Peering>;
  readonly policies: Map<string, AclPolicy>;
  readonly tokens: Map<string, AclToken>;
  /** The AccessorID of each token by its SecretID (set on create). */
  readonly tokenSecrets: Map<string, string>;
  /** This cluster as a client calling with `secretId` sees it: only readOwnToken differs. */
  as(secretId: string): ConsulApi;
  /** What a service registered from now on reports until a test changes it (Consul: critical until its first check). */
  registeredStatus: CheckStatus;
  /** The state a peering this cluster establishes (dials) reports right after establishing. */
  establishedState: Peering['state'];
  /** Runs before every call with the method and its first argument; throw from it to inject a failure. */
  before: (method: keyof ConsulApi, arg: unknown) => void;
  /** The recorded calls that change Consul's state. */
  writes(): string[];
  /** Sets the `mesh` entry as an operator would have written it (ModifyIndex advances). */
  putMeshEntry(entry: Record<string, unknown>): void;
}

const configKey = (kind: string, name: string) => `${kind}/${name}`;

/** A peering token as Consul makes one: base64 of JSON whose PeerID is the acceptor's peering ID. */
export const peeringTokenFor = (peeringId: string): string =>
  Buffer.from(JSON.stringify({ PeerID: peeringId, ServerAddresses: ['10.0.0.1:8443'] })).toString('base64');

/** A peering record with Go's zero values, the drift fakes' own. */
export const acceptorPeering = (name: string, id: string, state: Peering['state'] = 'PENDING'): Peering =>
  peering(name, state, id);

/** The record a dialer holds: it carries the peer's server addresses (Consul's `ShouldDial`). */
export const dialerPeering = (name: string, id: string, state: Peering['state'] = 'ACTIVE'): Peering => ({
  ...acceptorPeering(name, id, state),
  peerServerAddresses: ['10.0.0.2:8443'],
});

export function gatewayInstance(
  serviceName = 'mesh-gateway',
  status: CheckStatus = 'passing',
): HealthServiceInstance {
  return {
    node: { name: 'node-1', address: '10.0.0.1', datacenter: undefined, taggedAddresses: {} },
    service: {
      id: serviceName,
      name: serviceName,
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

export function memoryConsul(): MemoryConsul {
  const calls: string[] = [];
  const configEntries = new Map<string, RawConfigEntry>();
  const services = new Map<string, HealthServiceInstance>();
  const peerings = new Map<string, Peering>();
  const policies = new Map<string, AclPolicy>();
  const tokens = new Map<string, AclToken>();
  const tokenSecrets = new Map<string, string>();
  const kv = memoryKv();
  let index = 10;

  const record = (method: keyof ConsulApi, arg: unknown) => {
    calls.push(`${method} ${typeof arg === 'string' ? arg : JSON.stringify(arg)}`);
    consul.before(method, arg);
  };
  const call =
    <A extends unknown[], R>(method: keyof ConsulApi, body: (...args: A) => R) =>
    (...args: A): Promise<Awaited<R>> => {
      try {
        record(method, args[0]);
        return Promise.resolve<Awaited<R>>(body(...args) as Awaited<R>);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
  const exists = (path: string) =>
    new ConsulError('already-exists', { method: 'PUT', path }, 500, 'already exists');
  const setEntry = (kind: string, name: string, entry: Record<string, unknown>) => {
    const key = configKey(kind, name);
    const modifyIndex = ++index;
    const createIndex = configEntries.get(key)?.entry.CreateIndex ?? modifyIndex;
    configEntries.set(key, {
      entry: { ...structuredClone(entry), Kind: kind, CreateIndex: createIndex, ModifyIndex: modifyIndex },
      modifyIndex,
    });
  };

  const consul: MemoryConsul = {
    calls,
    configEntries,
    services,
    peerings,
    policies,
    tokens,
    tokenSecrets,
    as: (secretId) => ({
      ...consul,
      readOwnToken: call('readOwnToken', () => {
        const token = tokens.get(tokenSecrets.get(secretId) ?? '');
        if (token === undefined) {
          throw new ConsulError(
            'permission-denied',
            { method: 'GET', path: '/v1/acl/token/self' },
            403,
            'ACL not found',
            {
              denial: 'token-not-found',
            },
          );
        }
        return structuredClone(token);
      }),
    }),
    registeredStatus: 'passing',
    establishedState: 'ACTIVE',
    before: () => undefined,
    writes: () => calls.filter((c) => CONSUL_WRITE_METHODS.has(c.split(' ')[0] as keyof ConsulApi)),
    putMeshEntry: (entry) => {
      setEntry('mesh', 'mesh', entry);
    },

    readPeering: call('readPeering', (name: string) => structuredClone(peerings.get(name))),
    listPeerings: call('listPeerings', () => [...peerings.values()].map((p) => structuredClone(p))),
    generatePeeringToken: call('generatePeeringToken', ({ peerName, meta = {} }) => {
      // Consul keeps the peering (and its ID) when a token is generated again for the same name.
      const existing = peerings.get(peerName);
      const peering = existing ?? { ...acceptorPeering(peerName, randomUUID()), meta };
      peerings.set(peerName, peering);
      return peeringTokenFor(peering.id);
    }),
    establishPeering: call('establishPeering', ({ peerName, meta = {} }) => {
      // The dialer's record: it carries the peer's server addresses; in place when one exists.
      const existing = peerings.get(peerName);
      peerings.set(peerName, {
        ...dialerPeering(peerName, existing?.id ?? randomUUID(), consul.establishedState),
        meta,
      });
    }),
    deletePeering: call('deletePeering', (name: string) => void peerings.delete(name)),

    readConfigEntryRaw: call('readConfigEntryRaw', (kind: string, name: string) =>
      structuredClone(configEntries.get(configKey(kind, name))),
    ),
    writeConfigEntryCas: call('writeConfigEntryCas', (entry: ConfigEntry, cas: number) => {
      const name = entry.Kind === 'mesh' ? 'mesh' : String(entry.Name);
      const current = configEntries.get(configKey(entry.Kind, name));
      if ((current?.modifyIndex ?? 0) !== cas) {
        throw new ConsulError('cas-conflict', { method: 'PUT', path: '/v1/config' }, 200, 'cas conflict', {
          cas,
        });
      }
      setEntry(entry.Kind, name, entry);
    }),

    registerAgentService: call('registerAgentService', (registration: AgentServiceRegistration) => {
      const id = registration.ID ?? registration.Name;
      const tagged = Object.fromEntries(
        Object.entries(registration.TaggedAddresses ?? {}).map(([k, a]) => [
          k,
          { address: a.Address, port: a.Port },
        ]),
      );
      services.set(id, {
        node: { name: 'node-1', address: '10.0.0.1', datacenter: undefined, taggedAddresses: {} },
        service: {
          id,
          name: registration.Name,
          kind: registration.Kind,
          address: registration.Address ?? '',
          port: registration.Port ?? 0,
          taggedAddresses: tagged,
          meta: registration.Meta ?? {},
          tags: registration.Tags ?? [],
        },
        checks: [],
        status: consul.registeredStatus,
      });
    }),
    healthService: call('healthService', (name: string) =>
      [...services.values()].filter((s) => s.service.name === name).map((s) => structuredClone(s)),
    ),

    readKey: (key, options) => kv.readKey(key, options),
    writeKeyCas: (key, value, cas, options) => kv.writeKeyCas(key, value, cas, options),
    deleteKeyCas: (key, cas, options) => kv.deleteKeyCas(key, cas, options),

    readPolicyByName: call('readPolicyByName', (name: string) => structuredClone(policies.get(name))),
    createPolicy: call('createPolicy', ({ name, description = '', rules }) => {
      if (policies.has(name)) throw exists('/v1/acl/policy');
      const policy: AclPolicy = {
        id: `policy-${name}`,
        name,
        description,
        rules,
        datacenters: [],
        createIndex: ++index,
        modifyIndex: index,
      };
      policies.set(name, policy);
      return structuredClone(policy);
    }),
    updatePolicy: call('updatePolicy', (id: string, { name, description = '', rules }) => {
      const current = [...policies.values()].find((p) => p.id === id);
      if (current === undefined) throw new Error(`no policy ${id}`);
      const policy: AclPolicy = { ...current, name, description, rules, modifyIndex: ++index };
      policies.set(name, policy);
      return structuredClone(policy);
    }),
    readToken: call('readToken', (accessorId: string) => structuredClone(tokens.get(accessorId))),
    readOwnToken: call('readOwnToken', () => {
      throw new Error('memoryConsul: the automation reads its own token only through as()');
    }),
    createToken: call(
      'createToken',
      ({ accessorId = randomUUID(), secretId = randomUUID(), description = '', policies: links }) => {
        if (tokens.has(accessorId)) throw exists('/v1/acl/token');
        tokenSecrets.set(secretId, accessorId);
        const token: AclToken = {
          accessorId,
          description,
          policies: links.map((link) => {
            const policy = [...policies.values()].find((p) =>
              'id' in link ? p.id === link.id : p.name === link.name,
            );
            if (policy === undefined) throw new Error(`no policy ${JSON.stringify(link)}`);
            return { id: policy.id, name: policy.name };
          }),
          local: false,
          createIndex: ++index,
          modifyIndex: index,
        };
        tokens.set(accessorId, token);
        return structuredClone(token);
      },
    ),
    listTokensByPolicy: call('listTokensByPolicy', (policyId: string) =>
      [...tokens.values()]
        .filter((t) => t.policies.some((p) => p.id === policyId))
        .map((t) => structuredClone(t)),
    ),
    deleteToken: call('deleteToken', (accessorId: string) => void tokens.delete(accessorId)),
  };
  return consul;
}
