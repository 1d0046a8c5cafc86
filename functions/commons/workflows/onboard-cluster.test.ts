import { createEvent, type EventDataInput, type EventOf } from '../events';
import { gatewayTokenSecretName, MANAGED_BY_KEY, MANAGED_BY_VALUE } from '../naming';
import { acceptPeering } from './accept-peering';
import { GatewayPreconditionError } from './ensure-mesh-gateway';
import { meshGatewayPolicyName } from './gateway-policy';
import { gatewayInstance } from './memory-consul.test-support';
import { MemoryWorld, PREFIX, ref } from './memory-world.test-support';
import { DEFAULT_GATEWAY_SERVICE, onboardCluster } from './onboard-cluster';

// onboardCluster over in-memory ports: which writes a first run makes, in which order, and that a
// replay makes none. Real agents: test/integration.
const GATEWAY = { lan: { address: '10.0.1.5', port: 8443 }, wan: { address: '203.0.113.5', port: 443 } };

function registered(data: Partial<EventDataInput<'cluster.registered'>> = {}): EventOf<'cluster.registered'> {
  return createEvent('cluster.registered', { cluster: ref('dc1'), ...data }, { correlationId: 'corr-1' });
}

function world(options: { gatewayService?: string } = {}) {
  const w = new MemoryWorld();
  const dc1 = w.add('dc1', { onboarded: false, ...options });
  return {
    w,
    dc1,
    onboard: (event = registered({ gateway: GATEWAY })) => onboardCluster(event, w.context()),
  };
}

const methods = (calls: string[]) => calls.map((c) => c.split(' ')[0] ?? '');

test("the default gateway service is Consul's own default", () => {
  expect(DEFAULT_GATEWAY_SERVICE).toBe('mesh-gateway');
});

describe('a first run', () => {
  test('writes the policy, the token, the gateway, then the mesh flag, and reports each change', async () => {
    const { w, dc1, onboard } = world();

    await expect(onboard()).resolves.toEqual({
      changes: ['gateway-policy', 'gateway-token', 'gateway-registration', 'mesh-config'],
    });

    expect(methods(dc1.writes())).toEqual([
      'createPolicy',
      'createToken',
      'registerAgentService',
      'writeConfigEntryCas',
    ]);
    expect(dc1.configEntries.get('mesh/mesh')?.entry).toMatchObject({
      Kind: 'mesh',
      Peering: { PeerThroughMeshGateways: true },
      Meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
    });
    expect(dc1.services.get('mesh-gateway')?.service).toMatchObject({
      kind: 'mesh-gateway',
      address: '10.0.1.5',
      port: 8443,
      taggedAddresses: { wan: { address: '203.0.113.5', port: 443 } },
    });
    expect(w.secrets.values.has(gatewayTokenSecretName(PREFIX, 'dc1'))).toBe(true);
    expect(w.events()).toEqual([]);
  });

  test('touches nothing peering-related: no peering, no token, no exports', async () => {
    const { dc1, onboard } = world();
    await onboard();
    expect(methods(dc1.calls).filter((m) => m.includes('Peering'))).toEqual([]);
    expect(dc1.calls.filter((c) => c.includes('exported-services'))).toEqual([]);
    expect(dc1.peerings.size).toBe(0);
  });

  test('registers the gateway before the mesh flag: Consul refuses tokens with the flag on and no gateway', async () => {
    const { dc1, onboard } = world();
    let gatewayWhenFlagged: number | undefined;
    dc1.before = (method) => {
      if (method === 'writeConfigEntryCas') gatewayWhenFlagged = dc1.services.size;
    };
    await onboard();
    expect(gatewayWhenFlagged).toBe(1);
  });

  test("the gateway's checks are the configured interval", async () => {
    const { w, dc1, onboard } = world();
    w.settings.gatewayCheckInterval = '3s';
    await onboard();
    const registration = dc1.calls.find((c) => c.startsWith('registerAgentService')) ?? '';
    expect(JSON.parse(registration.slice('registerAgentService '.length))).toMatchObject({
      Check: { Interval: '3s' },
    });
  });
});

describe('a replay', () => {
  test('of a converged cluster writes nothing and reports no change', async () => {
    const { w, dc1, onboard } = world();
    await onboard();
    const versions = w.secrets.writes;
    dc1.calls.length = 0;

    await expect(onboard()).resolves.toEqual({ changes: [] });

    expect(dc1.writes()).toEqual([]);
    expect(w.secrets.writes).toBe(versions);
  });

  test('reports only what it had to change: a policy whose rules drifted', async () => {
    const { dc1, onboard } = world();
    await onboard();
    const name = meshGatewayPolicyName('mesh-gateway');
    const policy = dc1.policies.get(name);
    if (policy !== undefined) dc1.policies.set(name, { ...policy, rules: 'mesh = "read"' });

    await expect(onboard()).resolves.toEqual({ changes: ['gateway-policy'] });
    expect(methods(dc1.writes()).slice(4)).toEqual(['updatePolicy']);
  });

  test('reports only what it had to change: a mesh flag someone turned off', async () => {
    const { dc1, onboard } = world();
    await onboard();
    dc1.putMeshEntry({ Peering: { PeerThroughMeshGateways: false } });
    await expect(onboard()).resolves.toEqual({ changes: ['mesh-config'] });
  });

  test('reports only what it had to change: a gateway that moved', async () => {
    const { onboard } = world();
    await onboard();
    const moved = { ...GATEWAY, wan: { address: '203.0.113.9', port: 443 } };
    await expect(onboard(registered({ gateway: moved }))).resolves.toEqual({
      changes: ['gateway-registration'],
    });
  });
});

describe('the gateway', () => {
  test('an event without gateway addresses registers none and checks the one the operator registered', async () => {
    const { w, dc1 } = world({ gatewayService: 'edge' });
    dc1.services.set('edge', gatewayInstance('edge'));

    await expect(onboardCluster(registered(), w.context())).resolves.toEqual({
      changes: ['gateway-policy', 'gateway-token', 'mesh-config'],
    });

    expect(methods(dc1.writes())).not.toContain('registerAgentService');
    expect(dc1.calls).toContain('healthService edge');
    expect(dc1.policies.has(meshGatewayPolicyName('edge'))).toBe(true);
  });

  test("the event's service name wins over the cluster's", async () => {
    const { w, dc1 } = world({ gatewayService: 'edge' });
    await onboardCluster(registered({ gateway: { ...GATEWAY, serviceName: 'gw-2' } }), w.context());
    expect(dc1.services.has('gw-2')).toBe(true);
    expect(dc1.policies.has(meshGatewayPolicyName('gw-2'))).toBe(true);
    expect(dc1.calls.filter((c) => c.startsWith('healthService'))).toEqual([
      'healthService gw-2',
      'healthService gw-2',
    ]);
  });

  test('no gateway at all: every write is made, then the step waits for one (retryable)', async () => {
    const { w, dc1 } = world();
    const failure = onboardCluster(registered(), w.context());
    await expect(failure).rejects.toBeInstanceOf(GatewayPreconditionError);
    await expect(failure).rejects.toMatchObject({ kind: 'gateway-missing', retryable: true });
    expect(methods(dc1.writes())).toEqual(['createPolicy', 'createToken', 'writeConfigEntryCas']);
  });

  test('a gateway still starting: registered and flagged, then retried until it passes, with nothing rewritten', async () => {
    const { dc1, onboard } = world();
    dc1.registeredStatus = 'critical';

    await expect(onboard()).rejects.toMatchObject({ kind: 'gateway-not-passing' });
    const writes = dc1.writes().length;
    expect(writes).toBe(4);

    const gateway = dc1.services.get('mesh-gateway');
    if (gateway !== undefined) dc1.services.set('mesh-gateway', { ...gateway, status: 'passing' });
    await expect(onboard()).resolves.toEqual({ changes: [] });
    expect(dc1.writes()).toHaveLength(writes);
  });
});

describe('onboarding before peering (the mesh flag before the token)', () => {
  test('a peering requested before onboarding waits, generates nothing, and succeeds once onboarded', async () => {
    const { w, dc1, onboard } = world();
    w.add('dc2');
    const request = createEvent(
      'peering.requested',
      { acceptor: ref('dc1'), dialer: ref('dc2') },
      { correlationId: 'corr-2' },
    );

    await expect(acceptPeering(request, w.context())).rejects.toMatchObject({ kind: 'mesh-config-missing' });
    expect(dc1.peerings.size).toBe(0);

    await onboard();
    await expect(acceptPeering(request, w.context())).resolves.toEqual({ generated: true });
    const order = methods(dc1.writes());
    expect(order.indexOf('writeConfigEntryCas')).toBeLessThan(order.indexOf('generatePeeringToken'));
  });
});

describe('gateway token rotation', () => {
  test("hands the token's secret to the rotation schedule once, and a replay turns nothing on again", async () => {
    const w = new MemoryWorld();
    w.add('dc1', { onboarded: false });
    const scheduled = new Set<string>();
    const enable = jest.fn((name: string) => {
      const changed = !scheduled.has(name);
      scheduled.add(name);
      return Promise.resolve(changed);
    });
    const context = { ...w.context(), gatewayTokenRotation: { enable } };
    const event = registered({ gateway: GATEWAY });

    await expect(onboardCluster(event, context)).resolves.toMatchObject({
      changes: expect.arrayContaining(['gateway-token', 'gateway-token-rotation']) as unknown,
    });
    await expect(onboardCluster(event, context)).resolves.toEqual({ changes: [] });
    expect(enable.mock.calls).toEqual([
      [gatewayTokenSecretName(PREFIX, 'dc1')],
      [gatewayTokenSecretName(PREFIX, 'dc1')],
    ]);
  });

  test('without a schedule (the local runtime) nothing is turned on', async () => {
    const { onboard } = world();
    await expect(onboard()).resolves.not.toMatchObject({
      changes: expect.arrayContaining(['gateway-token-rotation']) as unknown,
    });
  });
});
