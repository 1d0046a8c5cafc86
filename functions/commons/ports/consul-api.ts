import type {
  AclPolicy,
  AclPolicyInput,
  AclToken,
  AclTokenInput,
  AgentServiceRegistration,
  CallOptions,
  ConfigEntry,
  EstablishPeeringInput,
  GeneratePeeringTokenInput,
  HealthServiceInstance,
  HealthServiceOptions,
  KvEntry,
  Peering,
  RawConfigEntry,
} from './consul-types';

/**
 * What the workflows need from one Consul cluster. The HTTP client implements it; workflow tests
 * can hand in anything with this shape.
 */
export interface ConsulApi {
  readPeering(name: string, options?: CallOptions): Promise<Peering | undefined>;
  listPeerings(options?: CallOptions): Promise<Peering[]>;
  generatePeeringToken(input: GeneratePeeringTokenInput, options?: CallOptions): Promise<string>;
  establishPeering(input: EstablishPeeringInput, options?: CallOptions): Promise<void>;
  deletePeering(name: string, options?: CallOptions): Promise<void>;

  readConfigEntryRaw(kind: string, name: string, options?: CallOptions): Promise<RawConfigEntry | undefined>;
  /** Writes only if the entry's ModifyIndex is `cas` (0: only if absent); else throws a cas-conflict ConsulError. */
  writeConfigEntryCas(entry: ConfigEntry, cas: number, options?: CallOptions): Promise<void>;

  registerAgentService(registration: AgentServiceRegistration, options?: CallOptions): Promise<void>;
  healthService(name: string, options?: HealthServiceOptions): Promise<HealthServiceInstance[]>;

  /** The per-pair lock's key (see workflows/pair-lock.ts): read, compare-and-set, compare-and-delete. */
  readKey(key: string, options?: CallOptions): Promise<KvEntry | undefined>;
  writeKeyCas(key: string, value: unknown, cas: number, options?: CallOptions): Promise<boolean>;
  deleteKeyCas(key: string, cas: number, options?: CallOptions): Promise<boolean>;

  readPolicyByName(name: string, options?: CallOptions): Promise<AclPolicy | undefined>;
  createPolicy(input: AclPolicyInput, options?: CallOptions): Promise<AclPolicy>;
  updatePolicy(id: string, input: AclPolicyInput, options?: CallOptions): Promise<AclPolicy>;
  readToken(accessorId: string, options?: CallOptions): Promise<AclToken | undefined>;
  readOwnToken(options?: CallOptions): Promise<AclToken>;
  createToken(input: AclTokenInput, options?: CallOptions): Promise<AclToken>;
  listTokensByPolicy(policyId: string, options?: CallOptions): Promise<AclToken[]>;
  deleteToken(accessorId: string, options?: CallOptions): Promise<void>;
}

/** The ConsulApi methods that change Consul's state: what "zero writes when converged" counts. */
export const CONSUL_WRITE_METHODS: ReadonlySet<keyof ConsulApi> = new Set<keyof ConsulApi>([
  'generatePeeringToken',
  'establishPeering',
  'deletePeering',
  'writeConfigEntryCas',
  'registerAgentService',
  'createPolicy',
  'updatePolicy',
  'createToken',
  'deleteToken',
]);
