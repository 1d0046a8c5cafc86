/**
 * The Consul port's vocabulary: what workflows, drift and peerctl speak, and what the adapter
 * (functions/commons/consul/) decodes Consul's answers into. Two conventions, on purpose:
 * - documents Consul stores as given (service and catalog registrations, config entries) keep
 *   Consul's own PascalCase JSON shape, so they can be written from Consul's docs and pass through
 *   untouched;
 * - operation parameters and decoded answers are camelCase and narrowed: only fields this project
 *   reads, each checked at the edge.
 */

/** Per-call options accepted by every client method. */
export interface CallOptions {
  /** Aborts the call (and any retry wait); the call then rejects with the signal's reason. */
  signal?: AbortSignal;
}

// ---- peering ----

/**
 * `ACTIVE` and `FAILING` are overlaid by the leader on each read, never stored (docs/consul-behaviour.md §1.1).
 * `UNKNOWN` stands for a state name this client does not know; `rawState` keeps Consul's text.
 */
export type PeeringState =
  'UNDEFINED' | 'PENDING' | 'ESTABLISHING' | 'ACTIVE' | 'FAILING' | 'DELETING' | 'TERMINATED' | 'UNKNOWN';

export interface PeeringStreamStatus {
  /** Undefined on builds that report only counts (some 1.13/1.14 builds). */
  importedServices: string[] | undefined;
  exportedServices: string[] | undefined;
  /** From the list when present, else from `ImportedServiceCount`; undefined when neither is reported. */
  importedServiceCount: number | undefined;
  exportedServiceCount: number | undefined;
  /** RFC 3339 timestamps as Consul sent them. */
  lastHeartbeat: string | undefined;
  lastReceive: string | undefined;
  lastSend: string | undefined;
}

export interface Peering {
  id: string;
  name: string;
  /** Enterprise only; undefined (or empty) on CE. */
  partition: string | undefined;
  state: PeeringState;
  rawState: string;
  /** The peer's ID for this peering (set on the dialer, and on the acceptor once established). */
  peerId: string | undefined;
  peerServerName: string | undefined;
  peerServerAddresses: string[];
  peerCaPems: string[];
  meta: Record<string, string>;
  /** Set once the peering is marked for deletion. */
  deletedAt: string | undefined;
  remote: { partition: string | undefined; datacenter: string | undefined } | undefined;
  stream: PeeringStreamStatus;
  createIndex: number;
  modifyIndex: number;
}

export interface GeneratePeeringTokenInput {
  /** A DNS label; Consul rejects anything else. */
  peerName: string;
  meta?: Record<string, string>;
  /** `host:port` pairs the dialer should use instead of the addresses Consul would pick. */
  serverExternalAddresses?: string[];
}

export interface EstablishPeeringInput {
  peerName: string;
  /** Secret: never logged, and redacted from any error this call raises. */
  peeringToken: string;
  meta?: Record<string, string>;
}

// ---- config entries ----

/** A config entry as Consul's JSON; `Kind` is required, everything else passes through untouched. */
export type ConfigEntry = { Kind: string } & Record<string, unknown>;

export interface RawConfigEntry {
  /** The entry exactly as decoded from Consul's JSON, including fields this client does not know. */
  entry: ConfigEntry;
  /** The entry's `ModifyIndex`, the value to pass as `cas` to write it back. */
  modifyIndex: number;
}

export interface CasOptions extends CallOptions {
  /** Write only if the entry's ModifyIndex equals this; 0 means create only if absent. */
  cas?: number;
}

/** A KV entry as read back: its value parsed from JSON (undefined when it is not JSON) and its ModifyIndex. */
export interface KvEntry {
  value: unknown;
  modifyIndex: number;
}

// ---- gateways: registration documents (Consul JSON) ----

export interface TaggedAddress {
  Address: string;
  Port: number;
}

export interface AgentCheckDefinition {
  CheckID?: string;
  Name?: string;
  TCP?: string;
  HTTP?: string;
  GRPC?: string;
  TTL?: string;
  Interval?: string;
  Timeout?: string;
  DeregisterCriticalServiceAfter?: string;
  Status?: 'passing' | 'warning' | 'critical';
  Notes?: string;
}

/** Body of `PUT /v1/agent/service/register` (docs/consul-behaviour.md §3.1 for the mesh-gateway shape). */
export interface AgentServiceRegistration {
  Kind?: string;
  ID?: string;
  Name: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  TaggedAddresses?: Record<string, TaggedAddress>;
  Meta?: Record<string, string>;
  Proxy?: Record<string, unknown>;
  Check?: AgentCheckDefinition;
  Checks?: AgentCheckDefinition[];
  EnableTagOverride?: boolean;
  Namespace?: string;
  Partition?: string;
}

/** The `Service` of a catalog registration: the catalog names the service `Service`, not `Name`. */
export interface CatalogServiceDefinition {
  ID?: string;
  Service: string;
  Kind?: string;
  Tags?: string[];
  Address?: string;
  Port?: number;
  TaggedAddresses?: Record<string, TaggedAddress>;
  Meta?: Record<string, string>;
  Proxy?: Record<string, unknown>;
  Namespace?: string;
  Partition?: string;
}

export interface CatalogCheck {
  Node?: string;
  CheckID?: string;
  Name: string;
  Status?: 'passing' | 'warning' | 'critical';
  ServiceID?: string;
  Notes?: string;
  Output?: string;
  Definition?: {
    TCP?: string;
    HTTP?: string;
    Interval?: string;
    Timeout?: string;
    DeregisterCriticalServiceAfter?: string;
  };
}

/** Body of `PUT /v1/catalog/register` (agentless registration; checks are managed by the caller). */
export interface CatalogRegistration {
  Node: string;
  Address: string;
  ID?: string;
  Datacenter?: string;
  TaggedAddresses?: Record<string, string>;
  NodeMeta?: Record<string, string>;
  Service?: CatalogServiceDefinition;
  Check?: CatalogCheck;
  Checks?: CatalogCheck[];
  SkipNodeUpdate?: boolean;
  Partition?: string;
}

/** Body of `PUT /v1/catalog/deregister`: the node alone removes the node and everything on it. */
export interface CatalogDeregistration {
  Node: string;
  ServiceID?: string;
  CheckID?: string;
  Datacenter?: string;
  Partition?: string;
}

// ---- health ----

export type CheckStatus = 'passing' | 'warning' | 'critical' | 'unknown';

export interface HealthCheck {
  checkId: string;
  name: string;
  status: CheckStatus;
  /** Empty for node-level checks. */
  serviceId: string;
  output: string;
}

export interface ServiceAddress {
  address: string;
  port: number;
}

export interface HealthServiceInstance {
  node: {
    name: string;
    address: string;
    datacenter: string | undefined;
    taggedAddresses: Record<string, string>;
  };
  service: {
    id: string;
    name: string;
    kind: string | undefined;
    /** May be empty: Consul then uses the node address. */
    address: string;
    port: number;
    /** e.g. `lan`, `wan`: the `wan` one is what goes into peering tokens. */
    taggedAddresses: Record<string, ServiceAddress>;
    meta: Record<string, string>;
    tags: string[];
  };
  /** Node-level and service-level checks. */
  checks: HealthCheck[];
  /** The worst status among `checks` (`passing` when there are none), as Consul's `?passing` judges. */
  status: CheckStatus;
}

export interface HealthServiceOptions extends CallOptions {
  /** Only instances whose checks all pass (`?passing=true`). */
  passing?: boolean;
}

// ---- ACL ----

export interface AclPolicyInput {
  name: string;
  description?: string;
  /** HCL rules, e.g. `peering = "read"`. */
  rules: string;
  /** Restrict the policy to these datacenters; all when omitted. */
  datacenters?: string[];
}

export interface AclPolicy {
  id: string;
  name: string;
  description: string;
  rules: string;
  datacenters: string[];
  createIndex: number;
  modifyIndex: number;
}

export type AclPolicyLink = { id: string } | { name: string };

export interface AclTokenInput {
  /** Pre-set UUIDs make creation idempotent and let the secret be stored before the token exists. */
  accessorId?: string;
  /** Secret: never logged, never returned, redacted from any error this call raises. */
  secretId?: string;
  description?: string;
  policies: AclPolicyLink[];
  /** A token valid only in this datacenter. */
  local?: boolean;
}

/** A token as read back. The SecretID is never returned: the caller chose it, and it stays out of logs. */
export interface AclToken {
  accessorId: string;
  description: string;
  policies: { id: string; name: string }[];
  local: boolean;
  createIndex: number;
  modifyIndex: number;
}

// ---- readiness ----

export interface CaRoot {
  id: string;
  name: string;
  active: boolean;
  /** PEM. */
  rootCert: string;
}

export interface CaRoots {
  /** Empty until the Connect CA has initialised. */
  activeRootId: string;
  /** Empty until the Connect CA has initialised. */
  trustDomain: string;
  roots: CaRoot[];
}

export interface WaitUntilReadyOptions extends CallOptions {
  /** Overall deadline. Default 60 s. */
  timeoutMs?: number;
  /** Pause between polls. Default 500 ms. */
  pollIntervalMs?: number;
}

export interface Readiness {
  /** `host:port` of the Raft leader. */
  leader: string;
  trustDomain: string;
}
