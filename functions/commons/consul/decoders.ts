import * as z from 'zod/mini';
import type {
  AclPolicy,
  AclToken,
  CaRoots,
  CheckStatus,
  HealthServiceInstance,
  KvEntry,
  Peering,
  PeeringState,
  RawConfigEntry,
  ServiceAddress,
} from '../ports/consul-types';

/**
 * Decoders from Consul's JSON answers to this client's types, as zod schemas. Lenient where Consul
 * is: a missing field, `null` (a Go nil slice or map) or a value of the wrong type reads as Go's zero
 * value, and list elements of the wrong type are dropped. Strict only on what a caller relies on
 * (IDs, names, the ModifyIndex a write-back needs); a violation throws ShapeError, which the
 * transport turns into an unexpected-response ConsulError.
 */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

/** `item` names a list's elements in messages: "peering.ID", not "peering list.3.ID". */
function decodeWith<T>(schema: z.ZodMiniType<T>, json: unknown, what: string, item?: string): T {
  const result = z.safeParse(schema, json);
  if (result.success) return result.data;
  // The shallowest problem first: "Service is not an object" says more than a field inside Node.
  const issue = result.error.issues.toSorted((a, b) => a.path.length - b.path.length)[0];
  const path = (issue?.path ?? []).map(String);
  const where = (item !== undefined && path.length > 0 ? [item, ...path.slice(1)] : [what, ...path]).join(
    '.',
  );
  // zod/mini has no default locale here: say what was expected ourselves.
  const expected = issue?.code === 'invalid_type' ? issue.expected : undefined;
  if (expected === 'object' || expected === 'array')
    throw new ShapeError(`${where} is not a JSON ${expected}`);
  throw new ShapeError(
    `${where} is missing or not ${expected === undefined ? 'the documented shape' : `a ${expected}`}`,
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ---- Go zero values ----

const text = z.catch(z.string(), '');
const maybeText = z.catch(z.optional(z.string()), undefined);
/** Empty reads as absent: Consul sends "" for an unset string field. */
const nonEmptyText = z.pipe(
  maybeText,
  z.transform((value) => value || undefined),
);
const count = z.catch(z.number(), 0);
const maybeCount = z.catch(z.optional(z.number()), undefined);
const flag = z.catch(z.boolean(), false);

/** Elements that `item` accepts; absent, `null` or not a list is empty. */
function listOf<T>(item: z.ZodMiniType<T>) {
  return z.transform((value: unknown): T[] =>
    Array.isArray(value)
      ? value.flatMap((element) => {
          const parsed = z.safeParse(item, element);
          return parsed.success ? [parsed.data] : [];
        })
      : [],
  );
}
const texts = listOf(z.string());
/** A list only when present as one, so "not reported" stays distinguishable from "empty". */
const reportedTexts = z.transform((value: unknown): string[] | undefined =>
  value === null ? [] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : undefined,
);
/** A `map[string]string`; non-string values are dropped. */
const textMap = z.transform((value: unknown): Record<string, string> =>
  isRecord(value)
    ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'))
    : {},
);
/** For a nested object whose fields are all lenient: absent or not an object reads as `{}`. */
const recordOrEmpty = z.transform((value: unknown) => (isRecord(value) ? value : {}));

// ---- peering ----

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
const peeringState = z.transform((raw: unknown): { state: PeeringState; rawState: string } => {
  if (typeof raw === 'number') return { state: PEERING_STATES[raw] ?? 'UNKNOWN', rawState: String(raw) };
  if (typeof raw !== 'string' || raw === '') return { state: 'UNDEFINED', rawState: '' };
  const upper = raw.toUpperCase();
  if (upper === 'INITIAL') return { state: 'PENDING', rawState: raw };
  return { state: PEERING_STATES.find((s) => s === upper) ?? 'UNKNOWN', rawState: raw };
});

const PeeringJson = z.object({
  ID: z.string(),
  Name: z.string(),
  Partition: maybeText,
  State: peeringState,
  PeerID: nonEmptyText,
  PeerServerName: nonEmptyText,
  PeerServerAddresses: texts,
  PeerCAPems: texts,
  Meta: textMap,
  DeletedAt: nonEmptyText,
  Remote: z.transform((value: unknown) =>
    isRecord(value)
      ? {
          partition: typeof value.Partition === 'string' ? value.Partition : undefined,
          datacenter: typeof value.Datacenter === 'string' ? value.Datacenter : undefined,
        }
      : undefined,
  ),
  StreamStatus: z.pipe(
    recordOrEmpty,
    z.object({
      ImportedServices: reportedTexts,
      ExportedServices: reportedTexts,
      LastHeartbeat: nonEmptyText,
      LastReceive: nonEmptyText,
      LastSend: nonEmptyText,
    }),
  ),
  ImportedServiceCount: maybeCount,
  ExportedServiceCount: maybeCount,
  CreateIndex: count,
  ModifyIndex: count,
});

function toPeering(p: z.infer<typeof PeeringJson>): Peering {
  const stream = p.StreamStatus;
  return {
    id: p.ID,
    name: p.Name,
    partition: p.Partition,
    ...p.State,
    peerId: p.PeerID,
    peerServerName: p.PeerServerName,
    peerServerAddresses: p.PeerServerAddresses,
    peerCaPems: p.PeerCAPems,
    meta: p.Meta,
    deletedAt: p.DeletedAt,
    remote: p.Remote,
    stream: {
      importedServices: stream.ImportedServices,
      exportedServices: stream.ExportedServices,
      // Builds from PRs #13644..#14747 reported counts at the top level instead of StreamStatus lists.
      importedServiceCount: stream.ImportedServices?.length ?? p.ImportedServiceCount,
      exportedServiceCount: stream.ExportedServices?.length ?? p.ExportedServiceCount,
      lastHeartbeat: stream.LastHeartbeat,
      lastReceive: stream.LastReceive,
      lastSend: stream.LastSend,
    },
    createIndex: p.CreateIndex,
    modifyIndex: p.ModifyIndex,
  };
}

export function decodePeering(json: unknown): Peering {
  return toPeering(decodeWith(PeeringJson, json, 'peering'));
}

export function decodePeeringList(json: unknown): Peering[] {
  // An empty list is `null` on some versions (a nil Go slice).
  if (json === null) return [];
  return decodeWith(z.array(PeeringJson), json, 'peering list', 'peering').map(toPeering);
}

export function decodePeeringToken(json: unknown): string {
  const PeeringTokenJson = z.object({ PeeringToken: z.string().check(z.minLength(1)) });
  return decodeWith(PeeringTokenJson, json, 'token response').PeeringToken;
}

// ---- config entries and KV ----

/** Unknown fields pass through untouched (below): a write-back must not drop what this client does not know. */
const RawConfigEntryJson = z.object({ Kind: z.string(), ModifyIndex: z.number() });

export function decodeRawConfigEntry(json: unknown): RawConfigEntry {
  const { Kind, ModifyIndex } = decodeWith(RawConfigEntryJson, json, 'config entry');
  // The object as Consul sent it, in its key order (zod's copy puts the known keys first).
  return { entry: { ...(isRecord(json) ? json : {}), Kind }, modifyIndex: ModifyIndex };
}

const KvAnswerJson = z.array(z.object({ Value: maybeText, ModifyIndex: count })).check(z.minLength(1));

/**
 * `GET /v1/kv/:key` answers a one-element array with the value base64-encoded (null for an empty
 * value). Our values are JSON; anything else reads as undefined, which callers treat as "not ours".
 */
export function decodeKvEntry(json: unknown): KvEntry {
  const [first] = decodeWith(KvAnswerJson, json, 'KV answer');
  let value: unknown;
  if (first?.Value !== undefined) {
    try {
      value = JSON.parse(Buffer.from(first.Value, 'base64').toString('utf8'));
    } catch {
      value = undefined;
    }
  }
  return { value, modifyIndex: first?.ModifyIndex ?? 0 };
}

/** `PUT /v1/config` and `DELETE …?cas=` answer a bare JSON boolean. */
export function decodeBoolean(json: unknown): boolean {
  return decodeWith(z.boolean(), json, 'answer');
}

/** `GET /v1/status/leader` answers a JSON string, empty while there is no leader. */
export function decodeLeader(json: unknown): string {
  return decodeWith(z.string(), json, 'leader');
}

// ---- health ----

const checkStatus = z.transform((raw: unknown): CheckStatus =>
  raw === 'passing' || raw === 'warning' || raw === 'critical' ? raw : 'unknown',
);
const SEVERITY: Readonly<Record<CheckStatus, number>> = { passing: 0, warning: 1, unknown: 2, critical: 3 };

const serviceAddresses = z.transform((value: unknown): Record<string, ServiceAddress> =>
  Object.fromEntries(
    Object.entries(isRecord(value) ? value : {}).flatMap(([name, tagged]) =>
      isRecord(tagged) && typeof tagged.Address === 'string'
        ? [[name, { address: tagged.Address, port: z.parse(count, tagged.Port) }]]
        : [],
    ),
  ),
);

const HealthCheckJson = z.object({
  CheckID: text,
  Name: text,
  Status: checkStatus,
  ServiceID: text,
  Output: text,
});

const HealthEntryJson = z.object({
  Node: z.object({ Node: z.string(), Address: text, Datacenter: maybeText, TaggedAddresses: textMap }),
  Service: z.object({
    ID: z.string(),
    Service: z.string(),
    Kind: nonEmptyText,
    Address: text,
    Port: count,
    TaggedAddresses: serviceAddresses,
    Meta: textMap,
    Tags: texts,
  }),
  // A check that is not an object is a broken answer, not a check to skip: it could be the failing one.
  Checks: z.pipe(
    z.transform((value: unknown): unknown[] => (Array.isArray(value) ? (value as unknown[]) : [])),
    z.array(HealthCheckJson),
  ),
});

export function decodeHealthService(json: unknown): HealthServiceInstance[] {
  if (json === null) return [];
  return decodeWith(z.array(HealthEntryJson), json, 'health service list', 'health entry').map(
    ({ Node, Service, Checks }) => {
      const checks = Checks.map((c) => ({
        checkId: c.CheckID,
        name: c.Name,
        status: c.Status,
        serviceId: c.ServiceID,
        output: c.Output,
      }));
      return {
        node: {
          name: Node.Node,
          address: Node.Address,
          datacenter: Node.Datacenter,
          taggedAddresses: Node.TaggedAddresses,
        },
        service: {
          id: Service.ID,
          name: Service.Service,
          kind: Service.Kind,
          address: Service.Address,
          port: Service.Port,
          taggedAddresses: Service.TaggedAddresses,
          meta: Service.Meta,
          tags: Service.Tags,
        },
        checks,
        status: checks.reduce<CheckStatus>(
          (worst, c) => (SEVERITY[c.status] > SEVERITY[worst] ? c.status : worst),
          'passing',
        ),
      };
    },
  );
}

// ---- ACL ----

const AclPolicyJson = z.object({
  ID: z.string(),
  Name: z.string(),
  Description: text,
  Rules: text,
  Datacenters: texts,
  CreateIndex: count,
  ModifyIndex: count,
});

export function decodeAclPolicy(json: unknown): AclPolicy {
  const p = decodeWith(AclPolicyJson, json, 'ACL policy');
  return {
    id: p.ID,
    name: p.Name,
    description: p.Description,
    rules: p.Rules,
    datacenters: p.Datacenters,
    createIndex: p.CreateIndex,
    modifyIndex: p.ModifyIndex,
  };
}

/** Has no `SecretID` field, so a decoded token can be logged. */
const AclTokenJson = z.object({
  AccessorID: z.string(),
  Description: text,
  Policies: listOf(z.object({ ID: text, Name: text })),
  Local: flag,
  CreateIndex: count,
  ModifyIndex: count,
});

function toAclToken(t: z.infer<typeof AclTokenJson>): AclToken {
  return {
    accessorId: t.AccessorID,
    description: t.Description,
    policies: t.Policies.map((link) => ({ id: link.ID, name: link.Name })),
    local: t.Local,
    createIndex: t.CreateIndex,
    modifyIndex: t.ModifyIndex,
  };
}

export function decodeAclToken(json: unknown): AclToken {
  return toAclToken(decodeWith(AclTokenJson, json, 'ACL token'));
}

export function decodeAclTokenList(json: unknown): AclToken[] {
  return decodeWith(z.array(AclTokenJson), json, 'ACL token list', 'ACL token').map(toAclToken);
}

// ---- readiness ----

const CaRootsJson = z.object({
  ActiveRootID: text,
  TrustDomain: text,
  Roots: listOf(z.object({ ID: text, Name: text, Active: flag, RootCert: text })),
});

export function decodeCaRoots(json: unknown): CaRoots {
  const r = decodeWith(CaRootsJson, json, 'CA roots');
  return {
    activeRootId: r.ActiveRootID,
    trustDomain: r.TrustDomain,
    roots: r.Roots.map((root) => ({
      id: root.ID,
      name: root.Name,
      active: root.Active,
      rootCert: root.RootCert,
    })),
  };
}
