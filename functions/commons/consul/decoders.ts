import {
  booleanOr,
  expectArray,
  expectObject,
  isObject,
  type JsonObject,
  numberOr,
  objectOr,
  optionalNumber,
  optionalString,
  optionalStringList,
  requiredString,
  ShapeError,
  stringList,
  stringMap,
  stringOr,
} from './narrow';
import type {
  AclPolicy,
  AclToken,
  CaRoots,
  CheckStatus,
  HealthCheck,
  HealthServiceInstance,
  KvEntry,
  Peering,
  PeeringState,
  RawConfigEntry,
  ServiceAddress,
} from './types';

/** Decoders from Consul's JSON answers to this client's types. Each takes `unknown` and narrows. */

const PEERING_STATES: readonly PeeringState[] = [
  'UNDEFINED',
  'PENDING',
  'ESTABLISHING',
  'ACTIVE',
  'FAILING',
  'DELETING',
  'TERMINATED',
];

/** Accepts the API's state name, the proto enum number, and 1.13's `INITIAL` (renamed PENDING). */
function peeringState(raw: unknown): { state: PeeringState; rawState: string } {
  if (typeof raw === 'number') {
    return { state: PEERING_STATES[raw] ?? 'UNKNOWN', rawState: String(raw) };
  }
  if (typeof raw !== 'string' || raw === '') return { state: 'UNDEFINED', rawState: '' };
  const upper = raw.toUpperCase();
  if (upper === 'INITIAL') return { state: 'PENDING', rawState: raw };
  const known = PEERING_STATES.find((s) => s === upper);
  return { state: known ?? 'UNKNOWN', rawState: raw };
}

export function decodePeering(json: unknown): Peering {
  const p = expectObject(json, 'peering');
  const stream = objectOr(p, 'StreamStatus');
  const importedServices = optionalStringList(stream, 'ImportedServices');
  const exportedServices = optionalStringList(stream, 'ExportedServices');
  const remote = isObject(p.Remote) ? p.Remote : undefined;
  const timestamp = (key: string): string | undefined => optionalString(stream, key) || undefined;
  return {
    id: requiredString(p, 'ID', 'peering'),
    name: requiredString(p, 'Name', 'peering'),
    partition: optionalString(p, 'Partition'),
    ...peeringState(p.State),
    peerId: optionalString(p, 'PeerID') || undefined,
    peerServerName: optionalString(p, 'PeerServerName') || undefined,
    peerServerAddresses: stringList(p, 'PeerServerAddresses'),
    peerCaPems: stringList(p, 'PeerCAPems'),
    meta: stringMap(p, 'Meta'),
    deletedAt: optionalString(p, 'DeletedAt') || undefined,
    remote: remote && {
      partition: optionalString(remote, 'Partition'),
      datacenter: optionalString(remote, 'Datacenter'),
    },
    stream: {
      importedServices,
      exportedServices,
      // Builds from PRs #13644..#14747 reported counts at the top level instead of StreamStatus lists.
      importedServiceCount: importedServices?.length ?? optionalNumber(p, 'ImportedServiceCount'),
      exportedServiceCount: exportedServices?.length ?? optionalNumber(p, 'ExportedServiceCount'),
      lastHeartbeat: timestamp('LastHeartbeat'),
      lastReceive: timestamp('LastReceive'),
      lastSend: timestamp('LastSend'),
    },
    createIndex: numberOr(p, 'CreateIndex'),
    modifyIndex: numberOr(p, 'ModifyIndex'),
  };
}

export function decodePeeringList(json: unknown): Peering[] {
  // An empty list is `null` on some versions (a nil Go slice).
  if (json === null) return [];
  return expectArray(json, 'peering list').map(decodePeering);
}

export function decodePeeringToken(json: unknown): string {
  const token = requiredString(expectObject(json, 'token response'), 'PeeringToken', 'token response');
  if (token === '') throw new ShapeError('token response.PeeringToken is empty');
  return token;
}

export function decodeRawConfigEntry(json: unknown): RawConfigEntry {
  const entry = expectObject(json, 'config entry');
  const kind = requiredString(entry, 'Kind', 'config entry');
  const modifyIndex = optionalNumber(entry, 'ModifyIndex');
  if (modifyIndex === undefined) throw new ShapeError('config entry.ModifyIndex is missing');
  return { entry: { ...entry, Kind: kind }, modifyIndex };
}

/** `PUT /v1/config` and `DELETE …?cas=` answer a bare JSON boolean. */
/**
 * `GET /v1/kv/:key` answers a one-element array with the value base64-encoded (null for an empty
 * value). Our values are JSON; anything else reads as undefined, which callers treat as "not ours".
 */
export function decodeKvEntry(json: unknown): KvEntry {
  const [first] = expectArray(json, 'KV answer');
  const entry = expectObject(first, 'KV entry');
  const raw = optionalString(entry, 'Value');
  let value: unknown;
  if (raw !== undefined) {
    try {
      value = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
    } catch {
      value = undefined;
    }
  }
  return { value, modifyIndex: numberOr(entry, 'ModifyIndex') };
}

export function decodeBoolean(json: unknown): boolean {
  if (typeof json !== 'boolean') throw new ShapeError('answer is not a JSON boolean');
  return json;
}

function checkStatus(raw: unknown): CheckStatus {
  return raw === 'passing' || raw === 'warning' || raw === 'critical' ? raw : 'unknown';
}

const SEVERITY: Readonly<Record<CheckStatus, number>> = { passing: 0, warning: 1, unknown: 2, critical: 3 };

function taggedServiceAddresses(service: JsonObject): Record<string, ServiceAddress> {
  const tagged = objectOr(service, 'TaggedAddresses');
  const out: Record<string, ServiceAddress> = {};
  for (const [name, value] of Object.entries(tagged)) {
    if (isObject(value) && typeof value.Address === 'string') {
      out[name] = { address: value.Address, port: numberOr(value, 'Port') };
    }
  }
  return out;
}

function decodeCheck(json: unknown): HealthCheck {
  const c = expectObject(json, 'health check');
  return {
    checkId: stringOr(c, 'CheckID'),
    name: stringOr(c, 'Name'),
    status: checkStatus(c.Status),
    serviceId: stringOr(c, 'ServiceID'),
    output: stringOr(c, 'Output'),
  };
}

export function decodeHealthService(json: unknown): HealthServiceInstance[] {
  if (json === null) return [];
  return expectArray(json, 'health service list').map((item) => {
    const entry = expectObject(item, 'health entry');
    const node = expectObject(entry.Node, 'health entry.Node');
    const service = expectObject(entry.Service, 'health entry.Service');
    const checks = Array.isArray(entry.Checks) ? entry.Checks.map(decodeCheck) : [];
    const status = checks.reduce<CheckStatus>(
      (worst, c) => (SEVERITY[c.status] > SEVERITY[worst] ? c.status : worst),
      'passing',
    );
    return {
      node: {
        name: requiredString(node, 'Node', 'health entry.Node'),
        address: stringOr(node, 'Address'),
        datacenter: optionalString(node, 'Datacenter'),
        taggedAddresses: stringMap(node, 'TaggedAddresses'),
      },
      service: {
        id: requiredString(service, 'ID', 'health entry.Service'),
        name: requiredString(service, 'Service', 'health entry.Service'),
        kind: optionalString(service, 'Kind') || undefined,
        address: stringOr(service, 'Address'),
        port: numberOr(service, 'Port'),
        taggedAddresses: taggedServiceAddresses(service),
        meta: stringMap(service, 'Meta'),
        tags: stringList(service, 'Tags'),
      },
      checks,
      status,
    };
  });
}

export function decodeAclPolicy(json: unknown): AclPolicy {
  const p = expectObject(json, 'ACL policy');
  return {
    id: requiredString(p, 'ID', 'ACL policy'),
    name: requiredString(p, 'Name', 'ACL policy'),
    description: stringOr(p, 'Description'),
    rules: stringOr(p, 'Rules'),
    datacenters: stringList(p, 'Datacenters'),
    createIndex: numberOr(p, 'CreateIndex'),
    modifyIndex: numberOr(p, 'ModifyIndex'),
  };
}

/** Deliberately drops `SecretID`, so a decoded token can be logged. */
export function decodeAclToken(json: unknown): AclToken {
  const t = expectObject(json, 'ACL token');
  const policies = Array.isArray(t.Policies) ? t.Policies.filter(isObject) : [];
  return {
    accessorId: requiredString(t, 'AccessorID', 'ACL token'),
    description: stringOr(t, 'Description'),
    policies: policies.map((link) => ({ id: stringOr(link, 'ID'), name: stringOr(link, 'Name') })),
    local: booleanOr(t, 'Local'),
    createIndex: numberOr(t, 'CreateIndex'),
    modifyIndex: numberOr(t, 'ModifyIndex'),
  };
}

/** `GET /v1/status/leader` answers a JSON string, empty while there is no leader. */
export function decodeLeader(json: unknown): string {
  if (typeof json !== 'string') throw new ShapeError('leader is not a JSON string');
  return json;
}

export function decodeCaRoots(json: unknown): CaRoots {
  const r = expectObject(json, 'CA roots');
  const roots = Array.isArray(r.Roots) ? r.Roots.filter(isObject) : [];
  return {
    activeRootId: stringOr(r, 'ActiveRootID'),
    trustDomain: stringOr(r, 'TrustDomain'),
    roots: roots.map((root) => ({
      id: stringOr(root, 'ID'),
      name: stringOr(root, 'Name'),
      active: booleanOr(root, 'Active'),
      rootCert: stringOr(root, 'RootCert'),
    })),
  };
}
