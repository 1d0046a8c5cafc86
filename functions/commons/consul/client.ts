import { X509Certificate } from 'node:crypto';

import type { Dispatcher } from 'undici';
import { Agent } from './undici-core';

import { ValidationError } from '#commons/errors';

import {
  decodeAclPolicy,
  decodeAclToken,
  decodeAclTokenList,
  decodeBoolean,
  decodeCaRoots,
  decodeHealthService,
  decodeLeader,
  decodePeering,
  decodePeeringList,
  decodePeeringToken,
  decodeKvEntry,
  decodeRawConfigEntry,
} from './decoders';
import { ConsulError, isConsulError } from '#commons/ports/consul-error';
import { waitUntilReady } from './readiness';
import { backoffDelay, type RetryPolicy, retryPolicy, sleep } from './retry';
import { ConsulTransport } from './transport';
import { clientCertificateProblem } from './client-certificate';
import type {
  AclPolicy,
  AclPolicyInput,
  AclPolicyLink,
  AclToken,
  AclTokenInput,
  AgentServiceRegistration,
  CallOptions,
  CaRoots,
  CasOptions,
  CatalogDeregistration,
  CatalogRegistration,
  ConfigEntry,
  EstablishPeeringInput,
  GeneratePeeringTokenInput,
  HealthServiceInstance,
  HealthServiceOptions,
  KvEntry,
  Peering,
  RawConfigEntry,
  Readiness,
  WaitUntilReadyOptions,
} from '../ports/consul-types';

export interface ConsulClientOptions {
  /** Agent HTTP(S) origin, e.g. `http://127.0.0.1:8500` or `https://consul.internal:8501`. */
  address: string;
  /** ACL token, sent as `X-Consul-Token`. Held privately; never logged or put in an error. */
  token?: string;
  /** PEM of the CA that signed the agent's HTTPS certificate (https:// addresses only). */
  caCert?: string;
  /** Name to verify the agent's certificate against (and send as SNI) when it differs from the host. */
  tlsServerName?: string;
  /**
   * PEM client certificate and its private key, for an agent that sets `verify_incoming` on HTTPS
   * (https:// addresses only; both or neither). The key is held by the TLS connector only.
   */
  clientCert?: string;
  clientKey?: string;
  /** Enterprise admin partition, sent as `?partition=`. Leave unset on CE, which rejects it. */
  partition?: string;
  /** Per-attempt timeout. Default 10 s. */
  timeoutMs?: number;
  /** Backoff of the client's own retries of safe requests. */
  retry?: Partial<RetryPolicy>;
  /** HTTP dispatcher to use instead of the client's own Agent (an undici MockAgent in tests); not closed by close(). */
  dispatcher?: Dispatcher;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A failing establish takes ~7 s inside Consul (1 s gateway wait, then 3 s + 3 s of dialing) before
 * it answers (docs/consul-behaviour.md §1.2), so it gets more than the default per-request budget.
 */
export const ESTABLISH_TIMEOUT_MS = 30_000;

/**
 * Typed client for the parts of Consul's HTTP API that cluster peering through mesh gateways needs.
 * One instance per cluster; create it at module scope so a warm Lambda reuses its connections.
 *
 * Reads that model absence (`readPeering`, `readConfigEntryRaw`, `readPolicyByName`, `readToken`)
 * return undefined instead of throwing a not-found ConsulError. Everything else throws a ConsulError
 * subclass (see errors.ts); a caller abort rejects with the signal's reason.
 */
export class ConsulClient {
  readonly address: string;
  readonly partition: string | undefined;
  readonly timeoutMs: number;
  readonly #transport: ConsulTransport;
  readonly #ownedAgent: Agent | undefined;
  readonly #retry: RetryPolicy;

  constructor(options: ConsulClientOptions) {
    const url = parseAddress(options.address);
    this.address = url.origin;
    this.partition = options.partition || undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new ValidationError(`timeoutMs must be a positive number, got ${this.timeoutMs}`, 'timeoutMs');
    }
    validateToken(options.token);
    if (options.caCert !== undefined) validateCaCert(options.caCert, url);
    validateClientCertificate(options.clientCert, options.clientKey, url);

    let dispatcher = options.dispatcher;
    if (!dispatcher) {
      this.#ownedAgent = new Agent({
        connect: {
          ...(options.caCert === undefined ? {} : { ca: options.caCert }),
          ...(options.tlsServerName === undefined ? {} : { servername: options.tlsServerName }),
          ...(options.clientCert === undefined ? {} : { cert: options.clientCert, key: options.clientKey }),
          // Shorter than the request timeout, so an unreachable host surfaces as a connect timeout,
          // which (unlike a request timeout) proves the request was never sent.
          timeout: Math.min(5_000, Math.ceil(this.timeoutMs / 2)),
        },
      });
      dispatcher = this.#ownedAgent;
    }
    this.#retry = retryPolicy(options.retry);
    this.#transport = new ConsulTransport({
      address: this.address,
      token: options.token || undefined,
      partition: this.partition,
      timeoutMs: this.timeoutMs,
      dispatcher,
      retry: this.#retry,
    });
  }

  /** Closes the client's own connection pool (an injected dispatcher is left to its owner). */
  async close(): Promise<void> {
    if (this.#ownedAgent && !this.#ownedAgent.closed) await this.#ownedAgent.close();
  }

  toString(): string {
    return `ConsulClient(${this.address})`;
  }

  toJSON(): Record<string, unknown> {
    return { address: this.address, partition: this.partition, timeoutMs: this.timeoutMs };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- peering ----

  /**
   * `POST /v1/peering/token`. Not retried: every call writes a new establishment secret and so
   * invalidates the previous unused token of this peering.
   */
  async generatePeeringToken(input: GeneratePeeringTokenInput, options: CallOptions = {}): Promise<string> {
    requireName(input.peerName, 'peerName');
    return this.#transport.json(
      {
        method: 'POST',
        path: '/v1/peering/token',
        body: {
          PeerName: input.peerName,
          ...(input.meta && { Meta: input.meta }),
          ...(input.serverExternalAddresses && { ServerExternalAddresses: input.serverExternalAddresses }),
        },
        signal: options.signal,
      },
      decodePeeringToken,
    );
  }

  /**
   * `POST /v1/peering/establish`. Synchronous: Consul exchanges the secret with the acceptor before
   * answering, so the timeout is at least ESTABLISH_TIMEOUT_MS. On success the peering is ESTABLISHING;
   * poll readPeering for ACTIVE.
   */
  async establishPeering(
    input: EstablishPeeringInput,
    options: CallOptions & { timeoutMs?: number } = {},
  ): Promise<void> {
    requireName(input.peerName, 'peerName');
    requireName(input.peeringToken, 'peeringToken');
    await this.#transport.send({
      method: 'POST',
      path: '/v1/peering/establish',
      body: {
        PeerName: input.peerName,
        PeeringToken: input.peeringToken,
        ...(input.meta && { Meta: input.meta }),
      },
      secrets: [input.peeringToken],
      timeoutMs: options.timeoutMs ?? Math.max(this.timeoutMs, ESTABLISH_TIMEOUT_MS),
      signal: options.signal,
    });
  }

  /** `GET /v1/peering/:name` (always answered by the leader); undefined when there is no such peering. */
  async readPeering(name: string, options: CallOptions = {}): Promise<Peering | undefined> {
    requireName(name, 'name');
    return absentAsUndefined(
      this.#transport.json(
        { method: 'GET', path: `/v1/peering/${encodeURIComponent(name)}`, signal: options.signal },
        decodePeering,
      ),
    );
  }

  async listPeerings(options: CallOptions = {}): Promise<Peering[]> {
    return this.#transport.json(
      { method: 'GET', path: '/v1/peerings', signal: options.signal },
      decodePeeringList,
    );
  }

  /**
   * `DELETE /v1/peering/:name`: marks it DELETING; the record disappears once its data is cleaned up.
   * A no-op when the peering is absent or already deleting.
   */
  async deletePeering(name: string, options: CallOptions = {}): Promise<void> {
    requireName(name, 'name');
    await this.#transport.send({
      method: 'DELETE',
      path: `/v1/peering/${encodeURIComponent(name)}`,
      signal: options.signal,
    });
  }

  // ---- config entries ----

  /**
   * `GET /v1/config/:kind/:name`, with the entry kept exactly as Consul sent it so a merge-and-write
   * keeps fields this client does not know. Undefined when absent (write it back with `cas: 0`).
   */
  async readConfigEntryRaw(
    kind: string,
    name: string,
    options: CallOptions = {},
  ): Promise<RawConfigEntry | undefined> {
    requireName(kind, 'kind');
    requireName(name, 'name');
    return absentAsUndefined(
      this.#transport.json(
        {
          method: 'GET',
          path: `/v1/config/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`,
          signal: options.signal,
        },
        decodeRawConfigEntry,
      ),
    );
  }

  /**
   * `PUT /v1/config[?cas=N]` with the entry as the body. Returns Consul's answer: false only when a
   * `cas` write lost the race (the entry changed, or exists when cas is 0). See writeConfigEntryCas.
   */
  async writeConfigEntry(entry: ConfigEntry, options: CasOptions = {}): Promise<boolean> {
    requireName(entry.Kind, 'entry.Kind');
    return this.#transport.json(
      {
        method: 'PUT',
        path: '/v1/config',
        query: { cas: casParam(options.cas) },
        body: entry,
        signal: options.signal,
      },
      decodeBoolean,
    );
  }

  /** Like writeConfigEntry with `cas`, but throws a cas-conflict ConsulError when the race is lost. */
  async writeConfigEntryCas(entry: ConfigEntry, cas: number, options: CallOptions = {}): Promise<void> {
    const written = await this.writeConfigEntry(entry, { cas, signal: options.signal });
    if (!written) {
      const name = typeof entry.Name === 'string' ? entry.Name : entry.Kind;
      throw new ConsulError(
        'cas-conflict',
        { method: 'PUT', path: '/v1/config' },
        200,
        cas === 0
          ? `Consul PUT /v1/config: the ${entry.Kind}/${name} entry already exists (cas=0 creates only). ` +
              'Read it and merge into it instead.'
          : `Consul PUT /v1/config: the ${entry.Kind}/${name} entry changed since it was read (cas=${cas}). ` +
              'Read it again, merge, and write with the new ModifyIndex.',
        { cas },
      );
    }
  }

  /**
   * `DELETE /v1/config/:kind/:name[?cas=N]`. True when deleted or absent; false only when a `cas`
   * delete lost the race.
   */
  async deleteConfigEntry(kind: string, name: string, options: CasOptions = {}): Promise<boolean> {
    requireName(kind, 'kind');
    requireName(name, 'name');
    const req = {
      method: 'DELETE' as const,
      path: `/v1/config/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`,
      query: { cas: casParam(options.cas) },
      signal: options.signal,
    };
    // Consul answers a boolean only for cas deletes, `{}` otherwise (agent/config_endpoint.go).
    if (options.cas === undefined) {
      await this.#transport.send(req);
      return true;
    }
    return this.#transport.json(req, decodeBoolean);
  }

  // ---- KV (the per-pair lock lives here, beside the state it protects) ----

  /** `GET /v1/kv/:key`: the value (stored as JSON by writeKeyCas) and its ModifyIndex; undefined when absent. */
  async readKey(key: string, options: CallOptions = {}): Promise<KvEntry | undefined> {
    return absentAsUndefined(
      this.#transport.json(
        { method: 'GET', path: kvPath(key), signal: options.signal, partitioned: false },
        decodeKvEntry,
      ),
    );
  }

  /**
   * `PUT /v1/kv/:key?cas=N` with `value` as JSON: true when written, false when the race was lost
   * (cas 0: the key exists; cas N: its ModifyIndex is no longer N).
   */
  async writeKeyCas(key: string, value: unknown, cas: number, options: CallOptions = {}): Promise<boolean> {
    return this.#transport.json(
      {
        method: 'PUT',
        path: kvPath(key),
        query: { cas: casParam(cas) },
        body: value,
        signal: options.signal,
        partitioned: false,
      },
      decodeBoolean,
    );
  }

  /** `DELETE /v1/kv/:key?cas=N`: true when deleted (or already absent), false when the race was lost. */
  async deleteKeyCas(key: string, cas: number, options: CallOptions = {}): Promise<boolean> {
    return this.#transport.json(
      {
        method: 'DELETE',
        path: kvPath(key),
        query: { cas: casParam(cas) },
        signal: options.signal,
        partitioned: false,
      },
      decodeBoolean,
    );
  }

  // ---- gateways ----

  /** `PUT /v1/agent/service/register` on the agent at `address`. */
  async registerAgentService(
    registration: AgentServiceRegistration,
    options: CallOptions & { replaceExistingChecks?: boolean } = {},
  ): Promise<void> {
    requireName(registration.Name, 'registration.Name');
    await this.#transport.send({
      method: 'PUT',
      path: '/v1/agent/service/register',
      query: { 'replace-existing-checks': options.replaceExistingChecks ? 'true' : undefined },
      body: registration,
      signal: options.signal,
    });
  }

  /** `PUT /v1/agent/service/deregister/:id`. False when the agent has no such service. */
  async deregisterAgentService(serviceId: string, options: CallOptions = {}): Promise<boolean> {
    requireName(serviceId, 'serviceId');
    const done = await absentAsUndefined(
      this.#transport.send({
        method: 'PUT',
        path: `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`,
        signal: options.signal,
      }),
    );
    return done !== undefined;
  }

  /** `PUT /v1/catalog/register`: agentless registration; the caller owns the checks' status. */
  async registerCatalog(registration: CatalogRegistration, options: CallOptions = {}): Promise<void> {
    requireName(registration.Node, 'registration.Node');
    await this.#transport.send({
      method: 'PUT',
      path: '/v1/catalog/register',
      body: registration,
      signal: options.signal,
    });
  }

  /** `PUT /v1/catalog/deregister`. Idempotent in Consul: removing what is absent succeeds. */
  async deregisterCatalog(deregistration: CatalogDeregistration, options: CallOptions = {}): Promise<void> {
    requireName(deregistration.Node, 'deregistration.Node');
    await this.#transport.send({
      method: 'PUT',
      path: '/v1/catalog/deregister',
      body: deregistration,
      signal: options.signal,
    });
  }

  /** `GET /v1/health/service/:name[?passing=true]`: instances with addresses and check statuses. */
  async healthService(name: string, options: HealthServiceOptions = {}): Promise<HealthServiceInstance[]> {
    requireName(name, 'name');
    return this.#transport.json(
      {
        method: 'GET',
        path: `/v1/health/service/${encodeURIComponent(name)}`,
        query: { passing: options.passing ? 'true' : undefined },
        signal: options.signal,
      },
      decodeHealthService,
    );
  }

  // ---- ACL ----

  /** `PUT /v1/acl/policy`. Throws an already-exists ConsulError when the name is taken. */
  async createPolicy(input: AclPolicyInput, options: CallOptions = {}): Promise<AclPolicy> {
    requireName(input.name, 'name');
    return this.#transport.json(
      { method: 'PUT', path: '/v1/acl/policy', body: policyBody(input), signal: options.signal },
      decodeAclPolicy,
    );
  }

  /**
   * `GET /v1/acl/policy/name/:name`; undefined when there is no such policy. Older Consul versions
   * answer a missing policy with 403 `ACL not found`, the same answer as for an unknown caller token
   * (issue #9933; newer versions answer 404). The caller's token is then checked with
   * `GET /v1/acl/token/self` to tell the two apart.
   */
  async readPolicyByName(name: string, options: CallOptions = {}): Promise<AclPolicy | undefined> {
    requireName(name, 'name');
    return this.#aclAbsentAsUndefined(
      () =>
        this.#transport.json(
          { method: 'GET', path: `/v1/acl/policy/name/${encodeURIComponent(name)}`, signal: options.signal },
          decodeAclPolicy,
        ),
      options,
    );
  }

  /** `PUT /v1/acl/policy/:id`: replaces name, description, rules and datacenters. */
  async updatePolicy(id: string, input: AclPolicyInput, options: CallOptions = {}): Promise<AclPolicy> {
    requireName(id, 'id');
    requireName(input.name, 'name');
    return this.#transport.json(
      {
        method: 'PUT',
        path: `/v1/acl/policy/${encodeURIComponent(id)}`,
        body: { ID: id, ...policyBody(input) },
        signal: options.signal,
      },
      decodeAclPolicy,
    );
  }

  /**
   * `PUT /v1/acl/token`. With a pre-set accessorId a repeat throws an already-exists ConsulError (read it
   * with readToken). The returned token never carries the SecretID.
   */
  async createToken(input: AclTokenInput, options: CallOptions = {}): Promise<AclToken> {
    return this.#transport.json(
      {
        method: 'PUT',
        path: '/v1/acl/token',
        body: {
          ...(input.accessorId && { AccessorID: input.accessorId }),
          ...(input.secretId && { SecretID: input.secretId }),
          Description: input.description ?? '',
          Policies: input.policies.map(policyLink),
          Local: input.local ?? false,
        },
        secrets: input.secretId ? [input.secretId] : [],
        signal: options.signal,
      },
      decodeAclToken,
    );
  }

  /** `GET /v1/acl/token/:accessorId`; undefined when absent (same 403 caveat as readPolicyByName). */
  async readToken(accessorId: string, options: CallOptions = {}): Promise<AclToken | undefined> {
    requireName(accessorId, 'accessorId');
    return this.#aclAbsentAsUndefined(
      () =>
        this.#transport.json(
          { method: 'GET', path: `/v1/acl/token/${encodeURIComponent(accessorId)}`, signal: options.signal },
          decodeAclToken,
        ),
      options,
    );
  }

  /**
   * `GET /v1/acl/token/self`: the token this client calls with, as Consul resolves it. Any valid
   * token may read itself; an unknown one is a permission-denied ConsulError (`token-not-found`).
   */
  async readOwnToken(options: CallOptions = {}): Promise<AclToken> {
    return this.#transport.json(
      { method: 'GET', path: '/v1/acl/token/self', signal: options.signal },
      decodeAclToken,
    );
  }

  /** `GET /v1/acl/tokens?policy=:id`: the tokens linked to a policy (never their SecretIDs). */
  async listTokensByPolicy(policyId: string, options: CallOptions = {}): Promise<AclToken[]> {
    requireName(policyId, 'policyId');
    return this.#transport.json(
      { method: 'GET', path: '/v1/acl/tokens', query: { policy: policyId }, signal: options.signal },
      decodeAclTokenList,
    );
  }

  /** `DELETE /v1/acl/token/:accessorId`. A no-op when the token is absent. */
  async deleteToken(accessorId: string, options: CallOptions = {}): Promise<void> {
    requireName(accessorId, 'accessorId');
    await absentAsUndefined(
      this.#transport.send({
        method: 'DELETE',
        path: `/v1/acl/token/${encodeURIComponent(accessorId)}`,
        signal: options.signal,
      }),
    );
  }

  // ---- readiness ----

  /** `GET /v1/status/leader`: the leader's `host:port`, empty while there is none. */
  async leader(options: CallOptions = {}): Promise<string> {
    return this.#leader(options.signal);
  }

  /** `GET /v1/connect/ca/roots`: empty IDs until the Connect CA has initialised. */
  async caRoots(options: CallOptions = {}): Promise<CaRoots> {
    return this.#caRoots(options.signal);
  }

  /** Polls leader and CA roots until both are there, or throws a not-ready ConsulError at the deadline. */
  async waitUntilReady(options: WaitUntilReadyOptions = {}): Promise<Readiness> {
    return waitUntilReady(
      {
        address: this.address,
        // The poll loop is the retry; a request retrying inside it would only overshoot the deadline.
        leader: (signal) => this.#leader(signal, 1),
        caRoots: (signal) => this.#caRoots(signal, 1),
      },
      options,
    );
  }

  #leader(signal: AbortSignal | undefined, maxAttempts?: number): Promise<string> {
    return this.#transport.json(
      { method: 'GET', path: '/v1/status/leader', partitioned: false, signal, maxAttempts },
      decodeLeader,
    );
  }

  #caRoots(signal: AbortSignal | undefined, maxAttempts?: number): Promise<CaRoots> {
    return this.#transport.json(
      { method: 'GET', path: '/v1/connect/ca/roots', partitioned: false, signal, maxAttempts },
      decodeCaRoots,
    );
  }

  async #aclAbsentAsUndefined<T>(read: () => Promise<T>, options: CallOptions): Promise<T | undefined> {
    try {
      return await absentAsUndefined(read());
    } catch (error) {
      if (!isTokenNotFound(error)) throw error;
      await this.#confirmOwnToken(error, options);
      // Our token is known, so "ACL not found" was about the object, unless the first answer came from a
      // server still loading its state: a restarted agent answers "ACL not found" to everything until it
      // leads and has restored its ACLs (seen on 1.14.11 in the chaos suite). Asking again settles it.
      try {
        return await absentAsUndefined(read());
      } catch (again) {
        if (isTokenNotFound(again)) return undefined;
        throw again;
      }
    }
  }

  /**
   * Resolves once `GET /v1/acl/token/self` accepts our token. A few tries, spaced by the retry policy:
   * a server that just restarted says "ACL not found" for the caller's own token too, for about a
   * second. Still refused after that: the token really is unknown, reported against `original`.
   */
  async #confirmOwnToken(original: unknown, options: CallOptions): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#transport.send({ method: 'GET', path: '/v1/acl/token/self', signal: options.signal });
        return;
      } catch (probeError) {
        if (!isTokenNotFound(probeError)) throw probeError;
        if (attempt >= OWN_TOKEN_PROBES) throw original;
        await sleep(Math.max(OWN_TOKEN_PROBE_DELAY_MS, backoffDelay(this.#retry, attempt)), options.signal);
      }
    }
  }
}

/** Probes of our own token before "ACL not found" is believed (see #confirmOwnToken). */
const OWN_TOKEN_PROBES = 4;
const OWN_TOKEN_PROBE_DELAY_MS = 250;

const isTokenNotFound = (error: unknown): error is ConsulError =>
  isConsulError(error, 'permission-denied') && error.denial === 'token-not-found';

async function absentAsUndefined<T>(pending: Promise<T>): Promise<T | undefined> {
  try {
    return await pending;
  } catch (error) {
    if (isConsulError(error, 'not-found')) return undefined;
    throw error;
  }
}

function parseAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new ValidationError(
      `address must be a URL like http://127.0.0.1:8500, got "${address}"`,
      'address',
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`address must use http:// or https://, got ${url.protocol}//`, 'address');
  }
  // Credentials in the URL would end up in messages and logs; the token option is the only secret.
  if (url.username || url.password) {
    throw new ValidationError(
      'address must not contain credentials; pass the ACL token as `token`',
      'address',
    );
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new ValidationError(
      `address must be an origin without a path or query, got ${url.origin}…`,
      'address',
    );
  }
  return url;
}

function validateToken(token: string | undefined): void {
  // A header value cannot hold control characters; say so without echoing the token.
  if (token !== undefined && /[^\x20-\x7e]/.test(token)) {
    throw new ValidationError('token contains characters that cannot be sent in an HTTP header', 'token');
  }
}

function validateCaCert(caCert: string, url: URL): void {
  if (url.protocol !== 'https:') {
    throw new ValidationError('caCert is only used with an https:// address', 'caCert');
  }
  try {
    new X509Certificate(caCert);
  } catch {
    throw new ValidationError('caCert is not a PEM certificate', 'caCert');
  }
}

/** Both or neither, https only, a PEM certificate and the private key that belongs to it. */
function validateClientCertificate(cert: string | undefined, key: string | undefined, url: URL): void {
  if (cert === undefined && key === undefined) return;
  if (cert === undefined || key === undefined) {
    const missing = cert === undefined ? 'clientCert' : 'clientKey';
    throw new ValidationError(
      `${missing} is missing: clientCert and clientKey go together (a client certificate and its key)`,
      missing,
    );
  }
  if (url.protocol !== 'https:') {
    throw new ValidationError('clientCert is only used with an https:// address', 'clientCert');
  }
  const found = clientCertificateProblem(cert, key);
  if (found !== undefined) {
    const field = found.part === 'certificate' ? 'clientCert' : 'clientKey';
    throw new ValidationError(`${field} ${found.problem}`, field);
  }
}

function requireName(value: string, field: string): void {
  if (typeof value !== 'string' || value === '')
    throw new ValidationError(`${field} must be a non-empty string`, field);
}

/** Each segment percent-encoded; the slashes between them are the key's own hierarchy. */
function kvPath(key: string): string {
  requireName(key, 'key');
  return `/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
}

function casParam(cas: number | undefined): string | undefined {
  if (cas === undefined) return undefined;
  if (!Number.isSafeInteger(cas) || cas < 0)
    throw new ValidationError(`cas must be an integer >= 0, got ${cas}`, 'cas');
  return String(cas);
}

function policyBody(input: AclPolicyInput): Record<string, unknown> {
  return {
    Name: input.name,
    Description: input.description ?? '',
    Rules: input.rules,
    ...(input.datacenters && { Datacenters: input.datacenters }),
  };
}

function policyLink(link: AclPolicyLink): { ID: string } | { Name: string } {
  return 'id' in link ? { ID: link.id } : { Name: link.name };
}
