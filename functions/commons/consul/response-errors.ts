import { ConsulError, type ConsulRequestLabel, type PeeringConflict } from '#commons/ports/consul-error';

/** Longest piece of Consul's body quoted in a message; Consul's own errors are one line. */
const MAX_QUOTED = 500;

/**
 * Turns a non-2xx answer into the typed error a caller decides on. Consul reports most failures of
 * its internal RPCs (peering refusals, ACL validation, an uninitialised CA) as a bare 500 with the
 * Go error text as the body (`agent/http.go` `handleErr`), so the body is classified before the
 * status: only what is not recognised falls back to "5xx means unavailable".
 *
 * `body` must already be redacted.
 */
export function errorFromResponse(request: ConsulRequestLabel, status: number, body: string): ConsulError {
  const consulMessage = quote(body);
  const detail = stripRpcPrefixes(consulMessage);
  const what = `Consul ${request.method} ${request.path}`;

  const peering = peeringRefusal(request, status, detail, consulMessage);
  if (peering) return peering;

  if (status === 403) return permissionDenied(request, detail);
  if (status === 404)
    return new ConsulError('not-found', request, 404, `${what}: not found (404: ${detail || 'no body'}).`);
  if (status === 401) {
    return new ConsulError(
      'misconfigured',
      request,
      401,
      `${what}: ${detail || 'unauthorized'} (401). ACLs are disabled on this agent; enable acl { enabled = true } ` +
        'or do not call ACL endpoints against it.',
    );
  }
  if (status === 400 && /HTTP request to an HTTPS server/i.test(detail)) {
    return new ConsulError(
      'tls',
      request,
      undefined,
      `${what}: the agent serves HTTPS on this port but the address uses http://. ` +
        'Use an https:// address (and caCert for a private CA).',
    );
  }
  if (status === 429) {
    return new ConsulError(
      'unavailable',
      request,
      429,
      `${what}: rate limited by Consul (429${detail ? `: ${detail}` : ''}). Retry later; check the agent's ` +
        'limits.http_max_conns_per_client and request_limits if it persists.',
      { consulMessage },
    );
  }
  if (status >= 400 && status < 500) {
    return new ConsulError(
      'bad-request',
      request,
      status,
      `${what}: rejected by Consul (${status}: ${detail || 'no body'}). Check the request fields against the Consul API for this version.`,
      { consulMessage },
    );
  }
  return serverError(request, status, detail, consulMessage);
}

/** Body text as it may appear in a message: one line, bounded. */
function quote(body: string): string {
  const oneLine = body.trim().replace(/\s+/g, ' ');
  return oneLine.length > MAX_QUOTED ? `${oneLine.slice(0, MAX_QUOTED)}…` : oneLine;
}

/** Removes the transport wrappers Consul puts around RPC errors; keeps the part a human wrote. */
function stripRpcPrefixes(message: string): string {
  return message
    .replace(/^rpc error making call:\s*/i, '')
    .replace(/^rpc error: code = \w+ desc = /i, '')
    .replace(/^rpc error making call:\s*/i, '');
}

/** The gRPC status code Consul's peering/config RPCs put in the text, if any. */
function rpcCode(message: string): string | undefined {
  return /rpc error: code = (\w+) desc = /i.exec(message)?.[1];
}

interface PeeringRule {
  pattern: RegExp;
  kind: PeeringConflict;
  explain: string;
}

// Order matters: the token messages nest (`a new peering token must be generated: invalid establishment
// secret: peering was already established`), so the most specific comes first.
const PEERING_RULES: readonly PeeringRule[] = [
  {
    pattern: /existing peering expecting to be dialed/i,
    kind: 'acceptor-name-in-use',
    explain:
      'this cluster already uses the peer name as an acceptor (it generated a token for it). A name is either ' +
      'acceptor or dialer: delete that peering or choose another name',
  },
  {
    pattern: /there is already an established peering/i,
    kind: 'dialer-name-in-use',
    explain:
      'this cluster already dials with the peer name (it established with it). A name is either acceptor or ' +
      'dialer: delete that peering or choose another name',
  },
  {
    pattern: /Cannot switch peering dialing mode/i,
    kind: 'dialing-mode-switch',
    explain: 'the peering exists in the other direction; delete it before reusing the name',
  },
  {
    pattern: /peering was already established/i,
    kind: 'token-already-used',
    explain:
      'the peering token was already used (tokens are single-use); generate a new token on the acceptor',
  },
  {
    pattern: /invalid establishment secret/i,
    kind: 'token-superseded',
    explain:
      'a newer token was generated on the acceptor, which invalidates this one; use the newest token or generate one',
  },
  {
    pattern: /a new peering token must be generated/i,
    kind: 'token-rejected',
    explain: 'the acceptor refused the token; generate a new token on the acceptor',
  },
  {
    pattern: /peering within the same cluster/i,
    kind: 'same-cluster',
    explain: 'the token was generated by this same cluster; establish on the other cluster',
  },
  {
    pattern: /marked for deletion/i,
    kind: 'deleting',
    explain: 'the peering is being deleted; wait until reading it returns 404, then retry',
  },
];

function peeringRefusal(
  request: ConsulRequestLabel,
  status: number,
  detail: string,
  consulMessage: string,
): ConsulError | undefined {
  const what = `Consul ${request.method} ${request.path}`;
  const rule = PEERING_RULES.find((r) => r.pattern.test(detail));
  if (rule) {
    return new ConsulError(
      'peering-conflict',
      request,
      status,
      `${what}: peering refused: ${rule.explain} (Consul: ${detail}).`,
      { conflict: rule.kind, consulMessage },
    );
  }
  if (/CA has not finished initializing/i.test(detail)) {
    return new ConsulError(
      'not-ready',
      request,
      status,
      `${what}: the Connect CA has not finished initializing (it does so shortly after the leader is elected). ` +
        'Retry shortly; if it persists check that connect { enabled = true } is set on the servers.',
    );
  }
  if (/no mesh gateway instances are registered/i.test(detail)) {
    return new ConsulError(
      'not-ready',
      request,
      status,
      `${what}: the mesh config entry has PeerThroughMeshGateways = true but no mesh gateway is registered in ` +
        'this cluster. Register the mesh gateway service before generating a peering token.',
    );
  }
  if (/peering must be enabled/i.test(detail)) {
    return new ConsulError(
      'misconfigured',
      request,
      status,
      `${what}: peering is disabled on this cluster. Set peering { enabled = true } on the servers.`,
    );
  }
  if (/TLS for gRPC must be enabled/i.test(detail)) {
    return new ConsulError(
      'misconfigured',
      request,
      status,
      `${what}: peering tokens need gRPC TLS. Set ports.grpc_tls (8503 by default on servers) or TLS for gRPC.`,
    );
  }
  return undefined;
}

// `Permission denied: token with AccessorID '<id>' lacks permission 'peering:read' on "x" in partition …`
// (acl/errors.go PermissionDeniedByACL); an anonymous caller reads `anonymous token lacks permission …`.
const LACKS_PERMISSION =
  /(?:token with AccessorID '([^']*)'|(anonymous) token) lacks permission '([^']+)'(?: on "([^"]*)")?/i;

function permissionDenied(request: ConsulRequestLabel, detail: string): ConsulError {
  const what = `Consul ${request.method} ${request.path}: permission denied`;
  const lacks = LACKS_PERMISSION.exec(detail);
  if (lacks) {
    const [, accessorId, anonymous, permission = '', resource] = lacks;
    const on = resource ? ` on "${resource}"` : '';
    if (anonymous) {
      return new ConsulError(
        'permission-denied',
        request,
        403,
        `${what}: the request reached Consul as the anonymous token, which lacks '${permission}'${on}. ` +
          'Check that an ACL token is configured for this cluster.',
        { denial: 'anonymous', permission, resource },
      );
    }
    return new ConsulError(
      'permission-denied',
      request,
      403,
      `${what}: the token (AccessorID '${accessorId ?? ''}') lacks '${permission}'${on}. ` +
        `Check that a policy attached to the token grants ${permission}.`,
      { denial: 'missing-permission', permission, resource, accessorId },
    );
  }
  if (/ACL not found/i.test(detail)) {
    return new ConsulError(
      'permission-denied',
      request,
      403,
      `${what}: Consul does not know the ACL token (ACL not found). Check that the configured token exists ` +
        'in this cluster, has not expired or been deleted, and is not a local token of another datacenter.',
      { denial: 'token-not-found' },
    );
  }
  if (/Endpoint is blocked by agent configuration/i.test(detail)) {
    return new ConsulError(
      'permission-denied',
      request,
      403,
      `${what}: the agent blocks this endpoint (http_config.block_endpoints). Check the agent configuration.`,
      { denial: 'endpoint-blocked' },
    );
  }
  return new ConsulError(
    'permission-denied',
    request,
    403,
    `${what} (${detail || 'no detail'}). Check the ACL policies attached to the configured token.`,
    { denial: 'denied' },
  );
}

function serverError(
  request: ConsulRequestLabel,
  status: number,
  detail: string,
  consulMessage: string,
): ConsulError {
  const what = `Consul ${request.method} ${request.path}`;
  const code = rpcCode(consulMessage);
  if (/already exists|already in use/i.test(detail)) {
    return new ConsulError(
      'already-exists',
      request,
      status,
      `${what}: ${detail}. Read the existing object and update it instead of creating it.`,
    );
  }
  if (/Connect must be enabled/i.test(detail)) {
    return new ConsulError(
      'misconfigured',
      request,
      status,
      `${what}: Connect is disabled on this cluster. Set connect { enabled = true } on the servers.`,
    );
  }
  // Consul's RPC layer validates late, so many invalid requests come back as 500: `Invalid Policy: …`,
  // `Invalid Token: …`, `x is not a valid peer name`, `meta tags failed validation`, or InvalidArgument.
  if (
    code === 'InvalidArgument' ||
    /^Invalid\b/.test(detail) ||
    /is not a valid|failed validation|Failed to parse|decoding failed/i.test(detail)
  ) {
    return new ConsulError(
      'bad-request',
      request,
      status,
      `${what}: rejected by Consul (${status}: ${detail}). Check the request fields.`,
      { consulMessage },
    );
  }
  if (/failed to exchange peering secret/i.test(detail)) {
    return new ConsulError(
      'unavailable',
      request,
      status,
      `${what}: the dialing servers could not reach the acceptor to exchange the peering secret (${detail}). ` +
        "Check that the acceptor's mesh gateway (its wan address in the token) is reachable from this cluster's " +
        'servers or mesh gateways, and that the acceptor is up.',
      { consulMessage },
    );
  }
  return new ConsulError(
    'unavailable',
    request,
    status,
    `${what}: Consul answered ${status}${detail ? ` (${detail})` : ''}. The agent or its servers may be unavailable ` +
      "(no leader, restarting, overloaded); retry later and check the agent's logs if it persists.",
    { consulMessage },
  );
}
