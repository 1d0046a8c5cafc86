import { createServer } from 'node:net';
import { inspect } from 'node:util';

import { type Interceptable, MockAgent } from 'undici';

import { ValidationError } from '#commons/errors';

import { ConsulClient, type ConsulClientOptions } from './client';

const ADDRESS = 'http://127.0.0.1:8500';
// Distinctive, so a leak anywhere is found by a plain substring search.
const TOKEN = '7e1f0c2a-leak-canary-9b3d-5f6a7b8c9d0e';
const JSON_HEADERS = { headers: { 'content-type': 'application/json' } };

let agent: MockAgent;
let consul: Interceptable;
let client: ConsulClient;

function newClient(options: Partial<ConsulClientOptions> = {}): ConsulClient {
  return new ConsulClient({
    address: ADDRESS,
    token: TOKEN,
    dispatcher: agent,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });
}

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  consul = agent.get(ADDRESS);
  client = newClient();
});

afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await client.close();
  await agent.close();
});

/** Every rendering of an error a logger or a DLQ record could contain. */
function renderings(error: unknown): string[] {
  const e = error as Error;
  return [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 }), String(e)];
}

function expectNoLeak(error: unknown, ...secrets: string[]): void {
  for (const text of renderings(error)) {
    for (const secret of [TOKEN, ...secrets]) expect(text).not.toContain(secret);
  }
}

async function failure(pending: Promise<unknown>): Promise<Error> {
  try {
    await pending;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

describe('requests', () => {
  it('sends the token as X-Consul-Token and the body as JSON', async () => {
    consul
      .intercept({
        path: '/v1/peering/token',
        method: 'POST',
        headers: { 'x-consul-token': TOKEN, 'content-type': 'application/json' },
        body: JSON.stringify({
          PeerName: 'dc2',
          Meta: { owner: 'automation' },
          ServerExternalAddresses: ['gw.example.com:8443'],
        }),
      })
      .reply(200, { PeeringToken: 'ZXlKRFFTSTZiblZzYkN3aQ==' }, JSON_HEADERS);

    await expect(
      client.generatePeeringToken({
        peerName: 'dc2',
        meta: { owner: 'automation' },
        serverExternalAddresses: ['gw.example.com:8443'],
      }),
    ).resolves.toBe('ZXlKRFFTSTZiblZzYkN3aQ==');
  });

  it('sends no token header when none is configured', async () => {
    client = newClient({ token: undefined });
    consul
      .intercept({ path: '/v1/status/leader', headers: (headers) => !('x-consul-token' in headers) })
      .reply(200, '"127.0.0.1:8300"');
    await expect(client.leader()).resolves.toBe('127.0.0.1:8300');
  });

  it('adds ?partition= on Enterprise, except where the endpoint takes none', async () => {
    client = newClient({ partition: 'team-a' });
    consul.intercept({ path: '/v1/peerings?partition=team-a' }).reply(200, []);
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '""');
    await expect(client.listPeerings()).resolves.toEqual([]);
    await expect(client.leader()).resolves.toBe('');
  });

  it('percent-encodes names in paths', async () => {
    consul.intercept({ path: '/v1/health/service/a%2Fb%20c?passing=true' }).reply(200, []);
    await expect(client.healthService('a/b c', { passing: true })).resolves.toEqual([]);
  });

  it('validates empty names before sending anything', async () => {
    await expect(client.readPeering('')).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('retries', () => {
  it('retries a GET on 503 and returns the eventual answer', async () => {
    consul.intercept({ path: '/v1/peering/dc2' }).reply(503, 'No cluster leader').times(2);
    consul.intercept({ path: '/v1/peering/dc2' }).reply(200, { ID: 'id', Name: 'dc2', State: 'ACTIVE' });
    await expect(client.readPeering('dc2')).resolves.toMatchObject({ name: 'dc2', state: 'ACTIVE' });
  });

  it('gives up a GET after 4 attempts with a retryable unavailable ConsulError', async () => {
    consul.intercept({ path: '/v1/peerings' }).reply(503, 'No cluster leader').times(4);
    const error = await failure(client.listPeerings());
    expect(error).toMatchObject({ kind: 'unavailable' });
    expect(error).toMatchObject({ status: 503, retryable: true, method: 'GET', path: '/v1/peerings' });
  });

  it('retries a GET on a reset connection', async () => {
    consul
      .intercept({ path: '/v1/status/leader' })
      .replyWithError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '"10.0.0.1:8300"');
    await expect(client.leader()).resolves.toBe('10.0.0.1:8300');
  });

  it('does not retry a PUT on 503: it may have been applied', async () => {
    // A second attempt would find no interceptor and fail differently.
    consul.intercept({ path: '/v1/config?cas=4', method: 'PUT' }).reply(503, 'rpc error making call: EOF');
    const error = await failure(client.writeConfigEntry({ Kind: 'mesh' }, { cas: 4 }));
    expect(error).toMatchObject({ kind: 'unavailable' });
    expect(error).toMatchObject({ method: 'PUT', path: '/v1/config', status: 503 });
  });

  it('does not retry a peering token generation on 500: a repeat would invalidate the token', async () => {
    consul
      .intercept({ path: '/v1/peering/token', method: 'POST' })
      .reply(500, 'rpc error: code = Unknown desc = EOF');
    await expect(client.generatePeeringToken({ peerName: 'dc2' })).rejects.toMatchObject({
      kind: 'unavailable',
    });
  });

  it('does not retry a PUT on a reset connection', async () => {
    consul
      .intercept({ path: '/v1/catalog/register', method: 'PUT' })
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const error = await failure(client.registerCatalog({ Node: 'gw-node', Address: '10.0.1.5' }));
    expect(error).toMatchObject({ failure: 'reset', requestNotSent: false });
  });

  it('retries a PUT refused before it was sent', async () => {
    consul
      .intercept({ path: '/v1/catalog/register', method: 'PUT' })
      .replyWithError(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8500'), { code: 'ECONNREFUSED' }),
      );
    consul.intercept({ path: '/v1/catalog/register', method: 'PUT' }).reply(200, 'true');
    await expect(client.registerCatalog({ Node: 'gw-node', Address: '10.0.1.5' })).resolves.toBeUndefined();
  });

  it('does not retry what retrying cannot fix', async () => {
    consul.intercept({ path: '/v1/peering/dc2' }).reply(403, 'ACL not found');
    await expect(client.readPeering('dc2')).rejects.toMatchObject({ kind: 'permission-denied' });
  });
});

describe('timeouts and aborts', () => {
  it('times out a request that gets no answer', async () => {
    client = newClient({ timeoutMs: 20, retry: { maxAttempts: 1 } });
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '""').delay(500);
    const error = await failure(client.leader());
    expect(error).toMatchObject({ kind: 'connection' });
    expect(error).toMatchObject({ failure: 'timeout', retryable: true });
    expect(error.message).toContain(`at ${ADDRESS}: no answer within 20 ms`);
  });

  it('gives a slow synchronous establish its own timeout', async () => {
    client = newClient({ timeoutMs: 20 });
    consul.intercept({ path: '/v1/peering/establish', method: 'POST' }).reply(200, '{}').delay(60);
    await expect(
      client.establishPeering({ peerName: 'dc1', peeringToken: 'dG9rZW4=' }, { timeoutMs: 1_000 }),
    ).resolves.toBeUndefined();
  });

  it('rejects with the caller’s reason when the caller aborts', async () => {
    consul.intercept({ path: '/v1/peerings' }).reply(200, []).delay(500);
    const controller = new AbortController();
    const pending = client.listPeerings({ signal: controller.signal });
    const reason = new Error('invocation deadline');
    setTimeout(() => {
      controller.abort(reason);
    }, 5);
    await expect(pending).rejects.toBe(reason);
  });

  it('sends nothing for an already aborted signal', async () => {
    const reason = new Error('already gone');
    await expect(client.leader({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('stops waiting between retries when the caller aborts', async () => {
    client = newClient({ retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.9 } });
    consul.intercept({ path: '/v1/peerings' }).reply(503, 'No cluster leader');
    const controller = new AbortController();
    const pending = client.listPeerings({ signal: controller.signal });
    setTimeout(() => {
      controller.abort(new Error('stop'));
    }, 20);
    await expect(pending).rejects.toThrow('stop');
  });
});

describe('secrets', () => {
  it('never leaks the token through an error, even when a proxy echoes it', async () => {
    consul
      .intercept({ path: '/v1/peerings' })
      .reply(502, `bad gateway (request had X-Consul-Token: ${TOKEN})`)
      .times(4);
    const error = await failure(client.listPeerings());
    expect(error.message).toContain('[REDACTED]');
    expectNoLeak(error);
  });

  it.each([
    [403, "Permission denied: token with AccessorID 'abc' lacks permission 'peering:write'"],
    [403, 'ACL not found'],
    [400, 'Bad request'],
    [500, 'cannot create peering with name: "dc2"; there is already an established peering'],
  ])('keeps the token out of a %i error', async (status, body) => {
    consul.intercept({ path: '/v1/peering/token', method: 'POST' }).reply(status, body);
    expectNoLeak(await failure(client.generatePeeringToken({ peerName: 'dc2' })));
  });

  it('redacts the peering token from establish errors', async () => {
    const peeringToken = 'eyJDQSI6WyItLS0tLUJFR0lOIn0seyJzZWNyZXQiOiJ4In0=';
    consul
      .intercept({ path: '/v1/peering/establish', method: 'POST' })
      .reply(500, `failed to decode token ${peeringToken}: invalid character`);
    const error = await failure(client.establishPeering({ peerName: 'dc1', peeringToken }));
    expectNoLeak(error, peeringToken);
  });

  it('redacts a SecretID from token creation errors and never returns it', async () => {
    const secretId = '0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a';
    consul
      .intercept({ path: '/v1/acl/token', method: 'PUT' })
      .reply(500, `Invalid Token: SecretID ${secretId} is already in use`);
    const error = await failure(client.createToken({ secretId, policies: [{ name: 'mesh-gateway' }] }));
    expect(error).toMatchObject({ kind: 'already-exists' });
    expectNoLeak(error, secretId);
  });

  it('does not show the token in the client’s own string, JSON or inspection', () => {
    for (const text of [
      String(client),
      JSON.stringify(client),
      inspect(client, { depth: 10, showHidden: true }),
    ]) {
      expect(text).not.toContain(TOKEN);
    }
    expect(JSON.parse(JSON.stringify(client))).toEqual({ address: ADDRESS, timeoutMs: 10_000 });
  });

  it('rejects a token that cannot be a header value, without echoing it', () => {
    let error: unknown;
    try {
      newClient({ token: `${TOKEN}\r\nX-Injected: 1` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expectNoLeak(error);
  });
});

describe('peering', () => {
  it('reads a peering, undefined on 404', async () => {
    consul.intercept({ path: '/v1/peering/gone' }).reply(404, 'Peering not found for "gone"');
    await expect(client.readPeering('gone')).resolves.toBeUndefined();
  });

  it('maps a refusal to a peering-conflict ConsulError with its conflict', async () => {
    consul
      .intercept({ path: '/v1/peering/establish', method: 'POST' })
      .reply(
        500,
        'rpc error: code = Unknown desc = cannot create peering with name: "dc1"; there is an existing peering expecting to be dialed',
      );
    const error = await failure(client.establishPeering({ peerName: 'dc1', peeringToken: 'dG9rZW4=' }));
    expect(error).toMatchObject({ kind: 'peering-conflict' });
    expect(error).toMatchObject({ conflict: 'acceptor-name-in-use', retryable: false });
  });

  it('maps the uninitialised CA to a retryable not-ready error', async () => {
    consul
      .intercept({ path: '/v1/peering/token', method: 'POST' })
      .reply(500, 'CA has not finished initializing');
    const error = await failure(client.generatePeeringToken({ peerName: 'dc2' }));
    expect(error).toMatchObject({ kind: 'not-ready' });
    expect(error).toMatchObject({ retryable: true });
  });

  it('names the missing permission', async () => {
    consul
      .intercept({ path: '/v1/peerings' })
      .reply(
        403,
        "rpc error: code = Unknown desc = Permission denied: token with AccessorID 'a7c1' lacks permission 'peering:read'",
      );
    const error = await failure(client.listPeerings());
    expect(error).toMatchObject({
      denial: 'missing-permission',
      permission: 'peering:read',
      accessorId: 'a7c1',
    });
    expect(error.message).toBe(
      "Consul GET /v1/peerings: permission denied: the token (AccessorID 'a7c1') lacks 'peering:read'. " +
        'Check that a policy attached to the token grants peering:read.',
    );
  });

  it('deletes a peering (empty 200 body)', async () => {
    consul.intercept({ path: '/v1/peering/dc2', method: 'DELETE' }).reply(200, '');
    await expect(client.deletePeering('dc2')).resolves.toBeUndefined();
  });

  it('reports an empty token as an unexpected answer', async () => {
    consul.intercept({ path: '/v1/peering/token', method: 'POST' }).reply(200, { PeeringToken: '' });
    await expect(client.generatePeeringToken({ peerName: 'dc2' })).rejects.toMatchObject({
      kind: 'unexpected-response',
    });
  });

  it('reports a non-JSON answer as unexpected', async () => {
    consul.intercept({ path: '/v1/peerings' }).reply(200, '<html>login</html>');
    const error = await failure(client.listPeerings());
    expect(error).toMatchObject({ kind: 'unexpected-response' });
    expect(error.message).toMatch(/not JSON/);
  });
});

describe('config entries', () => {
  const mesh = {
    Kind: 'mesh',
    TransparentProxy: { MeshDestinationsOnly: false },
    FieldFromANewerConsul: { Keep: ['me', 1, null] },
    CreateIndex: 11,
    ModifyIndex: 42,
  };

  it('reads the raw entry with its ModifyIndex, undefined on 404', async () => {
    consul.intercept({ path: '/v1/config/mesh/mesh' }).reply(200, mesh);
    consul
      .intercept({ path: '/v1/config/exported-services/default' })
      .reply(404, 'Config entry not found for "exported-services" / "default"');
    await expect(client.readConfigEntryRaw('mesh', 'mesh')).resolves.toEqual({
      entry: mesh,
      modifyIndex: 42,
    });
    await expect(client.readConfigEntryRaw('exported-services', 'default')).resolves.toBeUndefined();
  });

  it('writes the entry as the body, byte for byte, with ?cas', async () => {
    const merged = { ...mesh, Peering: { PeerThroughMeshGateways: true } };
    consul
      .intercept({ path: '/v1/config?cas=42', method: 'PUT', body: JSON.stringify(merged) })
      .reply(200, 'true');
    await expect(client.writeConfigEntry(merged, { cas: 42 })).resolves.toBe(true);
  });

  it('supports the read, merge, cas-write cycle that keeps unknown fields', async () => {
    consul.intercept({ path: '/v1/config/mesh/mesh' }).reply(200, mesh);
    const merged = { ...mesh, Peering: { PeerThroughMeshGateways: true } };
    consul
      .intercept({ path: '/v1/config?cas=42', method: 'PUT', body: JSON.stringify(merged) })
      .reply(200, 'true');

    const raw = await client.readConfigEntryRaw('mesh', 'mesh');
    if (!raw) throw new Error('expected the entry');
    await client.writeConfigEntryCas(
      { ...raw.entry, Peering: { PeerThroughMeshGateways: true } },
      raw.modifyIndex,
    );
  });

  it('returns false when a cas write loses; writeConfigEntryCas throws instead', async () => {
    consul.intercept({ path: '/v1/config?cas=42', method: 'PUT' }).reply(200, 'false').times(2);
    await expect(client.writeConfigEntry(mesh, { cas: 42 })).resolves.toBe(false);
    const error = await failure(client.writeConfigEntryCas(mesh, 42));
    expect(error).toMatchObject({ kind: 'cas-conflict' });
    expect(error).toMatchObject({ cas: 42, retryable: true, reason: 'consul.cas-conflict' });
    expect(error.message).toMatch(/mesh\/mesh entry changed since it was read \(cas=42\)/);
  });

  it('explains a lost create-only write (cas=0)', async () => {
    consul.intercept({ path: '/v1/config?cas=0', method: 'PUT' }).reply(200, 'false');
    const error = await failure(
      client.writeConfigEntryCas({ Kind: 'exported-services', Name: 'default', Services: [] }, 0),
    );
    expect(error.message).toMatch(/exported-services\/default entry already exists/);
  });

  it("carries Consul's message on 400", async () => {
    consul
      .intercept({ path: '/v1/config', method: 'PUT' })
      .reply(400, 'Request decoding failed: invalid config key "Name"');
    const error = await failure(client.writeConfigEntry({ Kind: 'mesh', Name: 'mesh' }));
    expect(error).toMatchObject({ kind: 'bad-request' });
    expect(error).toMatchObject({ consulMessage: 'Request decoding failed: invalid config key "Name"' });
  });

  it('deletes: `{}` without cas, a boolean with it', async () => {
    consul.intercept({ path: '/v1/config/mesh/mesh', method: 'DELETE' }).reply(200, '{}');
    consul.intercept({ path: '/v1/config/mesh/mesh?cas=7', method: 'DELETE' }).reply(200, 'false');
    await expect(client.deleteConfigEntry('mesh', 'mesh')).resolves.toBe(true);
    await expect(client.deleteConfigEntry('mesh', 'mesh', { cas: 7 })).resolves.toBe(false);
  });

  it('rejects a negative or fractional cas', async () => {
    await expect(client.writeConfigEntry(mesh, { cas: -1 })).rejects.toBeInstanceOf(ValidationError);
    await expect(client.writeConfigEntry(mesh, { cas: 1.5 })).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('gateways', () => {
  const registration = {
    Kind: 'mesh-gateway',
    Name: 'mesh-gateway',
    ID: 'mesh-gateway',
    Address: '10.0.1.5',
    Port: 8443,
    TaggedAddresses: {
      lan: { Address: '10.0.1.5', Port: 8443 },
      wan: { Address: '203.0.113.7', Port: 8443 },
    },
  };

  it('registers an agent service as given', async () => {
    consul
      .intercept({
        path: '/v1/agent/service/register?replace-existing-checks=true',
        method: 'PUT',
        body: JSON.stringify(registration),
      })
      .reply(200, '');
    await expect(
      client.registerAgentService(registration, { replaceExistingChecks: true }),
    ).resolves.toBeUndefined();
  });

  it('deregisters: true when removed, false when the agent has no such service', async () => {
    consul.intercept({ path: '/v1/agent/service/deregister/mesh-gateway', method: 'PUT' }).reply(200, '');
    consul
      .intercept({ path: '/v1/agent/service/deregister/nope', method: 'PUT' })
      .reply(404, 'Unknown service ID "nope". Ensure that the service ID is passed, not the service name.');
    await expect(client.deregisterAgentService('mesh-gateway')).resolves.toBe(true);
    await expect(client.deregisterAgentService('nope')).resolves.toBe(false);
  });

  it('deregisters from the catalog', async () => {
    consul
      .intercept({
        path: '/v1/catalog/deregister',
        method: 'PUT',
        body: JSON.stringify({ Node: 'gw-node', ServiceID: 'mesh-gateway' }),
      })
      .reply(200, 'true');
    await expect(
      client.deregisterCatalog({ Node: 'gw-node', ServiceID: 'mesh-gateway' }),
    ).resolves.toBeUndefined();
  });

  it('lists healthy instances with addresses and checks', async () => {
    consul.intercept({ path: '/v1/health/service/mesh-gateway?passing=true' }).reply(200, [
      {
        Node: { Node: 'gw-node', Address: '10.0.1.5', TaggedAddresses: null },
        Service: { ...registration, Service: 'mesh-gateway' },
        Checks: [
          { CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', ServiceID: '' },
          {
            CheckID: 'service:mesh-gateway',
            Name: 'mesh-gateway listening',
            Status: 'passing',
            ServiceID: 'mesh-gateway',
          },
        ],
      },
    ]);
    const [instance] = await client.healthService('mesh-gateway', { passing: true });
    expect(instance).toMatchObject({
      status: 'passing',
      service: { id: 'mesh-gateway', kind: 'mesh-gateway', address: '10.0.1.5', port: 8443 },
    });
    expect(instance?.service.taggedAddresses.wan).toEqual({ address: '203.0.113.7', port: 8443 });
    expect(instance?.checks.map((c) => c.name)).toEqual(['Serf Health Status', 'mesh-gateway listening']);
  });
});

describe('ACL', () => {
  const policy = {
    ID: 'p-1',
    Name: 'mesh-gateway',
    Description: 'gateway',
    Rules: 'peering = "read"',
    Datacenters: null,
    CreateIndex: 5,
    ModifyIndex: 6,
  };

  it('creates a policy with PUT', async () => {
    consul
      .intercept({
        path: '/v1/acl/policy',
        method: 'PUT',
        body: JSON.stringify({ Name: 'mesh-gateway', Description: 'gateway', Rules: 'peering = "read"' }),
      })
      .reply(200, policy);
    await expect(
      client.createPolicy({ name: 'mesh-gateway', description: 'gateway', rules: 'peering = "read"' }),
    ).resolves.toMatchObject({ id: 'p-1', name: 'mesh-gateway', datacenters: [] });
  });

  it('updates a policy by id', async () => {
    consul
      .intercept({
        path: '/v1/acl/policy/p-1',
        method: 'PUT',
        body: (body) => (JSON.parse(body) as { ID?: string }).ID === 'p-1',
      })
      .reply(200, policy);
    await expect(
      client.updatePolicy('p-1', { name: 'mesh-gateway', rules: 'peering = "read"' }),
    ).resolves.toMatchObject({
      id: 'p-1',
    });
  });

  it('reads a policy by name; 404 (newer Consul) is undefined', async () => {
    consul.intercept({ path: '/v1/acl/policy/name/mesh-gateway' }).reply(200, policy);
    consul
      .intercept({ path: '/v1/acl/policy/name/absent' })
      .reply(404, 'Requested policy does not exist: ACL not found');
    await expect(client.readPolicyByName('mesh-gateway')).resolves.toMatchObject({
      rules: 'peering = "read"',
    });
    await expect(client.readPolicyByName('absent')).resolves.toBeUndefined();
  });

  it('reads 403 "ACL not found" as absent when the caller token is valid and a second read agrees (older Consul)', async () => {
    consul.intercept({ path: '/v1/acl/policy/name/absent' }).reply(403, 'ACL not found').times(2);
    consul.intercept({ path: '/v1/acl/token/self' }).reply(200, { AccessorID: 'me', Policies: [] });
    await expect(client.readPolicyByName('absent')).resolves.toBeUndefined();
  });

  it('a restarted agent says "ACL not found" until its state is loaded: the token is probed again, then the read', async () => {
    // What a SIGKILLed and restarted 1.14.11 server answered in the chaos suite, in this order.
    consul.intercept({ path: '/v1/acl/policy/name/mesh-gateway' }).reply(403, 'ACL not found');
    consul.intercept({ path: '/v1/acl/token/self' }).reply(403, 'ACL not found').times(2);
    consul.intercept({ path: '/v1/acl/token/self' }).reply(200, { AccessorID: 'me', Policies: [] });
    consul.intercept({ path: '/v1/acl/policy/name/mesh-gateway' }).reply(200, policy);
    await expect(client.readPolicyByName('mesh-gateway')).resolves.toMatchObject({ id: 'p-1' });
  });

  it('reports 403 "ACL not found" as a token problem when the caller token stays unknown', async () => {
    consul.intercept({ path: '/v1/acl/policy/name/mesh-gateway' }).reply(403, 'ACL not found');
    consul.intercept({ path: '/v1/acl/token/self' }).reply(403, 'ACL not found').times(4);
    const error = await failure(client.readPolicyByName('mesh-gateway'));
    expect(error).toMatchObject({ kind: 'permission-denied' });
    expect(error).toMatchObject({ denial: 'token-not-found', path: '/v1/acl/policy/name/mesh-gateway' });
  });

  it('does not treat a missing acl:read as absence', async () => {
    consul
      .intercept({ path: '/v1/acl/policy/name/mesh-gateway' })
      .reply(403, "Permission denied: token with AccessorID 'me' lacks permission 'acl:read'");
    await expect(client.readPolicyByName('mesh-gateway')).rejects.toMatchObject({ permission: 'acl:read' });
  });

  it('creates a token with pre-set IDs and policy links by name or id', async () => {
    const body = {
      AccessorID: 'acc-1',
      SecretID: 'sec-1-not-returned',
      Description: 'gateway token',
      Policies: [{ Name: 'mesh-gateway' }, { ID: 'p-2' }],
      Local: true,
    };
    consul.intercept({ path: '/v1/acl/token', method: 'PUT', body: JSON.stringify(body) }).reply(200, {
      ...body,
      Policies: [
        { ID: 'p-1', Name: 'mesh-gateway' },
        { ID: 'p-2', Name: 'other' },
      ],
    });
    const token = await client.createToken({
      accessorId: 'acc-1',
      secretId: 'sec-1-not-returned',
      description: 'gateway token',
      policies: [{ name: 'mesh-gateway' }, { id: 'p-2' }],
      local: true,
    });
    expect(JSON.stringify(token)).not.toContain('sec-1-not-returned');
    expect(token.policies).toEqual([
      { id: 'p-1', name: 'mesh-gateway' },
      { id: 'p-2', name: 'other' },
    ]);
  });

  it('reads a token, undefined when absent', async () => {
    consul
      .intercept({ path: '/v1/acl/token/acc-1' })
      .reply(200, { AccessorID: 'acc-1', SecretID: '<hidden>' });
    consul.intercept({ path: '/v1/acl/token/acc-2' }).reply(403, 'ACL not found').times(2);
    consul.intercept({ path: '/v1/acl/token/self' }).reply(200, { AccessorID: 'me' });
    await expect(client.readToken('acc-1')).resolves.toMatchObject({ accessorId: 'acc-1' });
    await expect(client.readToken('acc-2')).resolves.toBeUndefined();
  });

  it('deletes a token; absent is fine', async () => {
    consul.intercept({ path: '/v1/acl/token/acc-1', method: 'DELETE' }).reply(200, 'true');
    consul
      .intercept({ path: '/v1/acl/token/acc-2', method: 'DELETE' })
      .reply(404, 'Cannot find token to delete');
    await expect(client.deleteToken('acc-1')).resolves.toBeUndefined();
    await expect(client.deleteToken('acc-2')).resolves.toBeUndefined();
  });
});

describe('readiness', () => {
  const readyRoots = {
    ActiveRootID: 'aa:bb',
    TrustDomain: '11111111-2222-3333-4444-555555555555.consul',
    Roots: [
      { ID: 'aa:bb', Name: 'Consul CA Primary Cert', Active: true, RootCert: '-----BEGIN CERTIFICATE-----' },
    ],
  };

  it('waits for a leader and an initialised CA', async () => {
    consul
      .intercept({ path: '/v1/status/leader' })
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '""');
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '"127.0.0.1:8300"').times(2);
    consul
      .intercept({ path: '/v1/connect/ca/roots' })
      .reply(200, { ActiveRootID: '', TrustDomain: '', Roots: null });
    consul.intercept({ path: '/v1/connect/ca/roots' }).reply(200, readyRoots);
    await expect(client.waitUntilReady({ timeoutMs: 2_000, pollIntervalMs: 1 })).resolves.toEqual({
      leader: '127.0.0.1:8300',
      trustDomain: readyRoots.TrustDomain,
    });
  });

  it('throws a not-ready ConsulError saying what is missing at the deadline', async () => {
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '""').persist();
    const error = await failure(client.waitUntilReady({ timeoutMs: 50, pollIntervalMs: 5 }));
    expect(error).toMatchObject({ kind: 'not-ready' });
    expect(error.message).toMatch(/was not ready within 50 ms: no Raft leader is elected yet/);
  });

  it('throws a permanent failure at once', async () => {
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '"127.0.0.1:8300"');
    consul
      .intercept({ path: '/v1/connect/ca/roots' })
      .reply(500, 'Connect must be enabled in order to use this endpoint');
    await expect(client.waitUntilReady({ timeoutMs: 5_000, pollIntervalMs: 1 })).rejects.toMatchObject({
      reason: 'consul.misconfigured',
    });
  });

  it('stops when the caller aborts', async () => {
    consul.intercept({ path: '/v1/status/leader' }).reply(200, '""').persist();
    const reason = new Error('lambda is out of time');
    const controller = new AbortController();
    setTimeout(() => {
      controller.abort(reason);
    }, 20);
    await expect(
      client.waitUntilReady({ signal: controller.signal, timeoutMs: 5_000, pollIntervalMs: 2 }),
    ).rejects.toBe(reason);
  });
});

describe('construction', () => {
  it.each([
    ['not a url', /must be a URL/],
    ['ftp://consul:21', /http:\/\/ or https:\/\//],
    ['http://user:pass@consul:8500', /must not contain credentials/],
    ['http://consul:8500/v1', /without a path/],
  ])('rejects the address %j', (address, message) => {
    expect(() => new ConsulClient({ address })).toThrow(message);
  });

  it('rejects a CA certificate with a plain http address, and one that is not PEM', () => {
    expect(() => new ConsulClient({ address: ADDRESS, caCert: 'x' })).toThrow(/only used with an https/);
    expect(() => new ConsulClient({ address: 'https://consul:8501', caCert: 'not a pem' })).toThrow(
      /not a PEM/,
    );
  });

  it('normalises the address to its origin', () => {
    expect(new ConsulClient({ address: 'http://127.0.0.1:8500/', dispatcher: agent }).address).toBe(ADDRESS);
  });
});

describe('against a real socket', () => {
  it('reports a refused connection with the address to check', async () => {
    const port = await closedPort();
    const real = new ConsulClient({
      address: `http://127.0.0.1:${port}`,
      retry: { baseDelayMs: 1, maxAttempts: 2 },
    });
    try {
      const error = await failure(real.leader());
      expect(error).toMatchObject({ kind: 'connection' });
      expect(error).toMatchObject({ failure: 'refused', code: 'ECONNREFUSED', requestNotSent: true });
      expect(error.message).toContain(`at http://127.0.0.1:${port}: connection refused`);
    } finally {
      await real.close();
    }
  });
});

/** A port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
