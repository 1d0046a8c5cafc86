import { errorFromResponse } from './response-errors';

const GET = { method: 'GET', path: '/v1/peering/peer-a' };
const TOKEN = { method: 'POST', path: '/v1/peering/token' };
const ESTABLISH = { method: 'POST', path: '/v1/peering/establish' };

describe('errorFromResponse: permission denied', () => {
  it.each([
    [
      "Permission denied: token with AccessorID 'a1b2' lacks permission 'peering:read'",
      'peering:read',
      undefined,
      'a1b2',
    ],
    [
      // As the Go API client shows it, relayed through the agent's RPC to the servers.
      "rpc error making call: Permission denied: token with AccessorID 'a1b2' lacks permission 'service:write' on \"mesh-gateway\"",
      'service:write',
      'mesh-gateway',
      'a1b2',
    ],
    [
      'rpc error: code = Unknown desc = Permission denied: token with AccessorID \'d648\' lacks permission \'service:write\' on "any service" in partition "unicorn" in namespace "default"',
      'service:write',
      'any service',
      'd648',
    ],
  ])('parses the missing permission out of %j', (body, permission, resource, accessorId) => {
    const error = errorFromResponse(GET, 403, body);
    expect(error).toMatchObject({ kind: 'permission-denied' });
    expect(error).toMatchObject({
      denial: 'missing-permission',
      permission,
      resource,
      accessorId,
      retryable: false,
    });
    expect(error.reason).toBe('consul.permission-denied');
    expect(error.message).toContain(`lacks '${permission}'`);
    expect(error.message).toContain('GET /v1/peering/peer-a');
    expect(error.message).toMatch(/Check that a policy attached to the token grants/);
  });

  it('recognises the anonymous token (no token reached Consul)', () => {
    const error = errorFromResponse(
      GET,
      403,
      "Permission denied: anonymous token lacks permission 'peering:read'",
    );
    expect(error).toMatchObject({ denial: 'anonymous', permission: 'peering:read' });
    expect(error.message).toMatch(/Check that an ACL token is configured/);
  });

  it('treats "ACL not found" as a token problem', () => {
    const error = errorFromResponse(GET, 403, 'ACL not found');
    expect(error).toMatchObject({ denial: 'token-not-found', permission: undefined });
    expect(error.message).toMatch(/does not know the ACL token/);
  });

  it('keeps a bare "Permission denied" as denied', () => {
    expect(errorFromResponse(GET, 403, 'Permission denied')).toMatchObject({ denial: 'denied' });
  });

  it('recognises an endpoint blocked by the agent', () => {
    expect(errorFromResponse(GET, 403, 'Endpoint is blocked by agent configuration')).toMatchObject({
      denial: 'endpoint-blocked',
    });
  });
});

describe('errorFromResponse: peering refusals', () => {
  it.each([
    [
      'rpc error: code = Unknown desc = cannot create peering with name: "peer-a"; there is an existing peering expecting to be dialed',
      'acceptor-name-in-use',
    ],
    [
      'cannot create peering with name: "peer-a"; there is already an established peering',
      'dialer-name-in-use',
    ],
    ['failed to write peering: Cannot switch peering dialing mode from true to false', 'dialing-mode-switch'],
    [
      'rpc error: code = PermissionDenied desc = a new peering token must be generated: invalid establishment secret: peering was already established',
      'token-already-used',
    ],
    ['a new peering token must be generated: invalid establishment secret', 'token-superseded'],
    [
      'a new peering token must be generated: rpc error: code = PermissionDenied desc = denied',
      'token-rejected',
    ],
    ['cannot create a peering within the same cluster "server.dc1.peering.abc.consul"', 'same-cluster'],
  ])('%j → %s (permanent)', (body, kind) => {
    const error = errorFromResponse(ESTABLISH, 500, body);
    expect(error).toMatchObject({ kind: 'peering-conflict' });
    expect(error).toMatchObject({
      conflict: kind,
      retryable: false,
      reason: 'consul.peering-conflict',
      status: 500,
    });
    expect(error.message).toContain('POST /v1/peering/establish');
  });

  it('makes "marked for deletion" retryable: it resolves once the record is gone', () => {
    const error = errorFromResponse(
      TOKEN,
      500,
      'failed to write peering: cannot write to peering that is marked for deletion',
    );
    expect(error).toMatchObject({ conflict: 'deleting', retryable: true });
    expect(error.message).toMatch(/wait until reading it returns 404/);
  });

  it('maps the uninitialised CA to a retryable not-ready error', () => {
    const error = errorFromResponse(
      TOKEN,
      500,
      'rpc error: code = Unknown desc = CA has not finished initializing',
    );
    expect(error).toMatchObject({ kind: 'not-ready' });
    expect(error).toMatchObject({ retryable: true, reason: 'consul.not-ready' });
  });

  it('maps PeerThroughMeshGateways without a gateway to not-ready', () => {
    const error = errorFromResponse(
      TOKEN,
      500,
      'servers are configured to PeerThroughMeshGateways, but no mesh gateway instances are registered',
    );
    expect(error).toMatchObject({ kind: 'not-ready' });
    expect(error.message).toMatch(/Register the mesh gateway/);
  });

  it('maps a failed secret exchange to retryable unavailable, naming what to check', () => {
    const error = errorFromResponse(
      ESTABLISH,
      500,
      'rpc error: code = Unknown desc = failed to exchange peering secret through address "203.0.113.7:8443": context deadline exceeded',
    );
    expect(error).toMatchObject({ kind: 'unavailable' });
    expect(error.message).toMatch(/mesh gateway/);
  });

  it.each([
    [
      'rpc error: code = FailedPrecondition desc = peering must be enabled to use this endpoint',
      /peering \{ enabled/,
    ],
    ['TLS for gRPC must be enabled when generating peering tokens', /grpc_tls/],
    ['Connect must be enabled in order to use this endpoint', /connect \{ enabled/],
  ])('maps %j to a misconfiguration', (body, check) => {
    const error = errorFromResponse(TOKEN, 500, body);
    expect(error).toMatchObject({ kind: 'misconfigured' });
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(check);
  });
});

describe('errorFromResponse: other statuses', () => {
  it('404 → not found', () => {
    const error = errorFromResponse(GET, 404, 'Peering not found for "peer-a"');
    expect(error).toMatchObject({ kind: 'not-found' });
    expect(error.message).toContain('Peering not found for "peer-a"');
  });

  it("400 → bad request carrying Consul's message", () => {
    const error = errorFromResponse(
      { method: 'PUT', path: '/v1/config' },
      400,
      'Request decoding failed: invalid config key "Name"',
    );
    expect(error).toMatchObject({ kind: 'bad-request' });
    expect(error).toMatchObject({
      consulMessage: 'Request decoding failed: invalid config key "Name"',
      status: 400,
    });
    expect(error.message).toContain('invalid config key "Name"');
  });

  it('400 from an HTTPS port spoken to in plain HTTP → TLS error', () => {
    const error = errorFromResponse(GET, 400, 'Client sent an HTTP request to an HTTPS server.\n');
    expect(error).toMatchObject({ kind: 'tls' });
    expect(error.message).toMatch(/use an https:\/\/ address/i);
  });

  it('401 → ACLs disabled', () => {
    expect(errorFromResponse(GET, 401, 'ACL support disabled')).toMatchObject({ kind: 'misconfigured' });
  });

  it.each([429, 500, 502, 503, 504])('%i with an unknown body → retryable unavailable', (status) => {
    const error = errorFromResponse(GET, status, 'No cluster leader');
    expect(error).toMatchObject({ kind: 'unavailable' });
    expect(error).toMatchObject({ status, retryable: true, reason: 'consul.unavailable' });
  });

  it.each([
    'Invalid Policy: A Policy with Name "mesh-gateway" already exists',
    'Invalid Token: AccessorID is already in use',
  ])('500 %j → already exists', (body) => {
    expect(errorFromResponse({ method: 'PUT', path: '/v1/acl/policy' }, 500, body)).toMatchObject({
      kind: 'already-exists',
    });
  });

  it.each([
    "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
    'rpc error: code = InvalidArgument desc = Partitions are a Consul Enterprise feature',
    'peer_a is not a valid peer name: a valid DNS label is required',
  ])('500 %j → bad request, not retried', (body) => {
    const error = errorFromResponse(TOKEN, 500, body);
    expect(error).toMatchObject({ kind: 'bad-request' });
    expect(error.retryable).toBe(false);
  });

  it('quotes at most a bounded, single-line part of the body', () => {
    const error = errorFromResponse(GET, 503, `line one\nline two ${'x'.repeat(2_000)}`);
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeLessThan(900);
  });
});
