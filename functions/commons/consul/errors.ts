import { AutomationError } from '#commons/errors';

/**
 * Failures of the Consul HTTP API, one class per decision a caller makes. Every message names the
 * request (method and path, never the query string) and says what to check. None ever contains the
 * ACL token: the client redacts it (and any other secret it sent) before a message is built.
 */

/** Where a failed request went: enough to find it in the agent's logs, nothing secret. */
export interface ConsulRequestLabel {
  method: string;
  /** URL path only; query values are left out because some (cas, filters) are noise and tokens could hide there. */
  path: string;
}

export abstract class ConsulError extends AutomationError {
  readonly method: string;
  readonly path: string;
  /** HTTP status when Consul answered; undefined for connection, TLS and timeout failures. */
  readonly status: number | undefined;

  constructor(
    request: ConsulRequestLabel,
    status: number | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.method = request.method;
    this.path = request.path;
    this.status = status;
  }

  /** What structured logs get; `cause` is left out because it can be a raw transport error. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      reason: this.reason,
      retryable: this.retryable,
      message: this.message,
      method: this.method,
      path: this.path,
      status: this.status,
    };
  }
}

/** 404 on a request where absence is unexpected (reads that model absence return undefined instead). */
export class ConsulNotFoundError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.not-found';
}

/**
 * What the 403 said about the token:
 * - `missing-permission`: a known token lacks `permission` (e.g. `peering:read`);
 * - `anonymous`: no token reached Consul (or it resolved to the anonymous token);
 * - `token-not-found`: Consul does not know the token (`ACL not found`): wrong, deleted, expired,
 *   or a local token of another datacenter;
 * - `endpoint-blocked`: the agent's `http_config.block_endpoints` blocks the path;
 * - `denied`: a bare `Permission denied` with no detail.
 */
export type PermissionDeniedKind =
  'missing-permission' | 'anonymous' | 'token-not-found' | 'endpoint-blocked' | 'denied';

export class ConsulPermissionDeniedError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.permission-denied';

  constructor(
    request: ConsulRequestLabel,
    message: string,
    readonly kind: PermissionDeniedKind,
    /** The missing permission as Consul names it, e.g. `peering:write`, when Consul said. */
    readonly permission?: string,
    /** The resource the permission was checked on (a service or key name), when Consul said. */
    readonly resource?: string,
    /** AccessorID of the denied token: a public identifier, never the secret. */
    readonly accessorId?: string,
  ) {
    super(request, 403, message);
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), kind: this.kind, permission: this.permission, resource: this.resource };
  }
}

/** A `?cas=` write or delete lost the race: the entry changed (or appeared) since it was read. */
export class ConsulCasConflictError extends ConsulError {
  // Retrying the whole read-merge-write cycle resolves it, so a redelivery is the right outcome.
  readonly retryable = true;
  readonly reason = 'consul.cas-conflict';

  constructor(
    request: ConsulRequestLabel,
    message: string,
    readonly cas: number,
  ) {
    super(request, 200, message);
  }
}

/** Consul refused the request as malformed or invalid (400, 405, 413, or an RPC InvalidArgument). */
export class ConsulBadRequestError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.bad-request';

  constructor(
    request: ConsulRequestLabel,
    status: number,
    message: string,
    /** Consul's own words, with secrets redacted. */
    readonly consulMessage: string,
  ) {
    super(request, status, message);
  }
}

/** The object already exists (an ACL policy name, a token AccessorID or SecretID). */
export class ConsulAlreadyExistsError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.already-exists';
}

/** 429 or 5xx that is not recognised as permanent: no leader, overloaded, restarting. */
export class ConsulUnavailableError extends ConsulError {
  readonly retryable = true;
  readonly reason = 'consul.unavailable';

  constructor(
    request: ConsulRequestLabel,
    status: number,
    message: string,
    readonly consulMessage: string,
  ) {
    super(request, status, message);
  }
}

/** How far a failed connection got; decides whether a write may be sent again. */
export type ConnectionFailure = 'refused' | 'dns' | 'connect-timeout' | 'reset' | 'timeout' | 'unreachable';

/** No usable HTTP exchange: refused, DNS failure, reset, or no answer within the timeout. */
export class ConsulConnectionError extends ConsulError {
  readonly retryable = true;
  readonly reason = 'consul.connection';

  constructor(
    request: ConsulRequestLabel,
    message: string,
    readonly failure: ConnectionFailure,
    /** System or undici error code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`), when there was one. */
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(request, undefined, message, options);
  }

  /** True when Consul cannot have received the request, so even a write is safe to send again. */
  get requestNotSent(): boolean {
    return this.failure === 'refused' || this.failure === 'dns' || this.failure === 'connect-timeout';
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), failure: this.failure, code: this.code };
  }
}

/** The TLS handshake failed (untrusted CA, name mismatch, expired, plain HTTP on an HTTPS port). */
export class ConsulTlsError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.tls';

  constructor(
    request: ConsulRequestLabel,
    message: string,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(request, undefined, message, options);
  }
}

/** Consul is up but not ready for this yet (CA initialising, no leader, no gateway registered). */
export class ConsulNotReadyError extends ConsulError {
  readonly retryable = true;
  readonly reason = 'consul.not-ready';
}

/** The agent's configuration cannot serve the request (peering, Connect, ACLs or gRPC TLS disabled). */
export class ConsulMisconfiguredError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.misconfigured';
}

/**
 * A refusal of Consul's peering rules (`agent/rpc/peering/service.go`, `state/peering.go`):
 * - `acceptor-name-in-use`: establish with a name this cluster already uses as acceptor;
 * - `dialer-name-in-use`: generate a token for a name this cluster already dials with;
 * - `dialing-mode-switch`: the store refused to flip a peering between acceptor and dialer;
 * - `token-already-used`: the token's establishment secret was consumed (a token is single-use);
 * - `token-superseded`: a newer token was generated for the peering, invalidating this one;
 * - `token-rejected`: the acceptor refused the secret exchange; a new token must be generated;
 * - `same-cluster`: the token was generated by this very cluster;
 * - `deleting`: the peering is marked for deletion; this one is retryable, it resolves itself once
 *   the record is gone (wait for the 404).
 */
export type PeeringConflictKind =
  | 'acceptor-name-in-use'
  | 'dialer-name-in-use'
  | 'dialing-mode-switch'
  | 'token-already-used'
  | 'token-superseded'
  | 'token-rejected'
  | 'same-cluster'
  | 'deleting';

export class ConsulPeeringConflictError extends ConsulError {
  readonly retryable: boolean;
  readonly reason = 'consul.peering-conflict';

  constructor(
    request: ConsulRequestLabel,
    status: number,
    message: string,
    readonly kind: PeeringConflictKind,
    readonly consulMessage: string,
  ) {
    super(request, status, message);
    this.retryable = kind === 'deleting';
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), kind: this.kind };
  }
}

/** A 2xx whose body is not what this Consul API returns (a proxy page, an incompatible version). */
export class ConsulUnexpectedResponseError extends ConsulError {
  readonly retryable = false;
  readonly reason = 'consul.unexpected-response';
}
