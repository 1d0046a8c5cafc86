import { ConsulError, type ConsulRequestLabel, type ConnectionFailure } from '#commons/ports/consul-error';

// Node's TLS verification codes (OpenSSL X509_V_ERR_* names) plus Node's own host check.
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const CONNECTION_CODES: Readonly<Record<string, ConnectionFailure>> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  UND_ERR_CONNECT_TIMEOUT: 'connect-timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  EHOSTDOWN: 'unreachable',
};

const CHECKS: Readonly<Record<ConnectionFailure, string>> = {
  refused: 'connection refused. Check the address and port and that the Consul agent is running there',
  dns: 'the host name did not resolve. Check the host name in the address and the DNS of this network',
  'connect-timeout':
    'the TCP connection timed out. Check the address, and that security groups, NACLs and routes let this ' +
    'function reach the agent',
  reset:
    'the connection was closed by the other side. Check that the address points at a Consul HTTP(S) port',
  timeout: 'no answer in time. Check that the agent is healthy and reachable, or raise timeoutMs',
  unreachable: 'the host is unreachable. Check the address and the network path (VPC, subnets, routes)',
};

/** Converts a failure of the HTTP exchange itself (no status) into a typed error. */
export function errorFromNetworkFailure(
  request: ConsulRequestLabel,
  address: string,
  error: unknown,
  redact: (text: string) => string,
): ConsulError {
  const code = findCode(error);
  const detail = redact(describe(error));
  const cause = sanitizedCause(error, redact);
  const where = `Consul ${request.method} ${request.path} at ${address}`;

  if (isTlsFailure(code, detail)) {
    const wrongProtocol = /wrong version number|packet length too long|http request/i.test(detail);
    // TLS alerts the agent sends when it verifies clients (verify_incoming on HTTPS): 116 "certificate
    // required" when none was presented, 42/48 "bad certificate"/"unknown ca" when it does not trust it.
    const clientRefused = /alert (certificate required|bad certificate|unknown ca|certificate unknown)/i.exec(
      detail,
    );
    const check = wrongProtocol
      ? 'The port does not speak TLS: use an http:// address, or the agent HTTPS port (ports.https)'
      : clientRefused?.[1]?.toLowerCase() === 'certificate required'
        ? 'The agent requires a client certificate (verify_incoming on HTTPS): set clientCert and clientKey in the connection secret (peerctl cluster add --client-cert-file, --client-key-file)'
        : clientRefused !== null
          ? "The agent refused the client certificate: clientCert and clientKey must be signed by a CA in the agent's ca_file, and not expired"
          : "Check that caCert is the CA that signed the agent's HTTPS certificate (the CA file), and that the " +
            "address host (or tlsServerName) is one of the certificate's names";
    return new ConsulError(
      'tls',
      request,
      undefined,
      `${where}: TLS handshake failed (${detail}). ${check}.`,
      { code },
      {
        cause,
      },
    );
  }

  const failure = (code === undefined ? undefined : CONNECTION_CODES[code]) ?? 'reset';
  return new ConsulError(
    'connection',
    request,
    undefined,
    `${where}: ${CHECKS[failure]} (${detail}).`,
    { failure, code },
    {
      cause,
    },
  );
}

/** A per-request timeout fired before Consul answered. */
export function timeoutError(request: ConsulRequestLabel, address: string, timeoutMs: number): ConsulError {
  return new ConsulError(
    'connection',
    request,
    undefined,
    `Consul ${request.method} ${request.path} at ${address}: no answer within ${timeoutMs} ms. ` +
      'Check that the agent is healthy and reachable from here, or raise timeoutMs.',
    { failure: 'timeout', code: undefined },
  );
}

function isTlsFailure(code: string | undefined, detail: string): boolean {
  if (code && (CERTIFICATE_CODES.has(code) || code === 'EPROTO' || /^ERR_(SSL|TLS)_/.test(code))) return true;
  if (code && code in CONNECTION_CODES) return false;
  return /certificate|self[- ]signed|wrong version number|SSL routines/i.test(detail);
}

/**
 * The first error code on the chain. Node puts it on the error, undici wraps it in `cause`, and a
 * dual-stack connect attempt raises an AggregateError whose `errors` carry the codes.
 */
function findCode(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && code !== 'UND_ERR') return code;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = findCode(inner, depth + 1);
      if (found) return found;
    }
  }
  return findCode(cause, depth + 1);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const parts = [error.message];
    if (error instanceof AggregateError) {
      for (const inner of error.errors) if (inner instanceof Error) parts.push(inner.message);
    }
    if (error.cause instanceof Error && !parts.includes(error.cause.message)) parts.push(error.cause.message);
    return parts.filter(Boolean).join('; ') || error.name;
  }
  return String(error);
}

/** Keeps the transport error as `cause` unless it mentions a secret; then only a redacted copy. */
function sanitizedCause(error: unknown, redact: (text: string) => string): unknown {
  if (!(error instanceof Error)) return undefined;
  const text = `${describe(error)}\n${error.stack ?? ''}`;
  if (redact(text) === text) return error;
  const copy = new Error(redact(error.message));
  copy.name = error.name;
  return copy;
}
