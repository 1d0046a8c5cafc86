import type { HealthServiceInstance } from '../ports/consul-types';
import { NotReadyError } from '../errors';
import {
  ensureMeshGatewayRegistered,
  GatewayPreconditionError,
  isRegisteredAt,
  requirePassingGateway,
} from './ensure-mesh-gateway';
import { gatewayInstance, memoryConsul } from './memory-consul.test-support';

const GATEWAY = {
  serviceName: 'mesh-gateway',
  lan: { address: '10.0.1.5', port: 8443 },
  wan: { address: '203.0.113.5', port: 443 },
};

/** An instance as the health endpoint reports one registered at these addresses. */
function registeredAt(
  { lan, wan }: Pick<typeof GATEWAY, 'lan' | 'wan'>,
  kind: string | undefined = 'mesh-gateway',
): HealthServiceInstance {
  const instance = gatewayInstance('mesh-gateway');
  return {
    ...instance,
    service: {
      ...instance.service,
      kind,
      address: lan.address,
      port: lan.port,
      taggedAddresses: { lan, wan },
    },
  };
}

describe('ensureMeshGatewayRegistered', () => {
  test('registers the gateway as `consul connect envoy -gateway=mesh -register` would (docs/consul-behaviour.md §3.1)', async () => {
    const consul = memoryConsul();
    await expect(ensureMeshGatewayRegistered(consul, GATEWAY, '10s')).resolves.toEqual({ changed: true });
    const [registration] = consul.writes();
    expect(JSON.parse(registration?.slice('registerAgentService '.length) ?? '')).toEqual({
      Kind: 'mesh-gateway',
      ID: 'mesh-gateway',
      Name: 'mesh-gateway',
      Address: '10.0.1.5',
      Port: 8443,
      TaggedAddresses: {
        lan: { Address: '10.0.1.5', Port: 8443 },
        wan: { Address: '203.0.113.5', Port: 443 },
      },
      Proxy: { Config: { envoy_gateway_no_default_bind: true, envoy_gateway_bind_tagged_addresses: true } },
      Meta: { 'managed-by': 'consul-peering-automation' },
      Check: {
        Name: 'mesh-gateway listening',
        TCP: '10.0.1.5:8443',
        Interval: '10s',
        DeregisterCriticalServiceAfter: '6h',
      },
    });
  });

  test('a gateway registered at exactly these addresses is left alone', async () => {
    const consul = memoryConsul();
    await ensureMeshGatewayRegistered(consul, GATEWAY, '10s');
    await expect(ensureMeshGatewayRegistered(consul, GATEWAY, '10s')).resolves.toEqual({ changed: false });
    expect(consul.writes()).toHaveLength(1);
  });

  test('another instance of the service (another ID) does not count: ours is registered beside it', async () => {
    const consul = memoryConsul();
    const other = registeredAt(GATEWAY);
    consul.services.set('mesh-gateway-2', { ...other, service: { ...other.service, id: 'mesh-gateway-2' } });
    await expect(ensureMeshGatewayRegistered(consul, GATEWAY, '10s')).resolves.toEqual({ changed: true });
    expect(consul.services.has('mesh-gateway')).toBe(true);
  });

  test('a gateway that moved is registered again at the wanted addresses', async () => {
    const consul = memoryConsul();
    await ensureMeshGatewayRegistered(
      consul,
      { ...GATEWAY, wan: { address: '198.51.100.1', port: 443 } },
      '10s',
    );
    await expect(ensureMeshGatewayRegistered(consul, GATEWAY, '10s')).resolves.toEqual({ changed: true });
    expect(consul.services.get('mesh-gateway')?.service.taggedAddresses.wan).toEqual(GATEWAY.wan);
  });
});

describe('isRegisteredAt', () => {
  test('the same kind, LAN and WAN addresses', () => {
    expect(isRegisteredAt(registeredAt(GATEWAY), GATEWAY)).toBe(true);
  });

  test.each([
    ['another kind', registeredAt(GATEWAY, 'connect-proxy')],
    ['another LAN address', registeredAt({ ...GATEWAY, lan: { address: '10.0.1.6', port: 8443 } })],
    ['another LAN port', registeredAt({ ...GATEWAY, lan: { address: '10.0.1.5', port: 8444 } })],
    ['another WAN address', registeredAt({ ...GATEWAY, wan: { address: '203.0.113.6', port: 443 } })],
    ['another WAN port', registeredAt({ ...GATEWAY, wan: { address: '203.0.113.5', port: 8443 } })],
  ])('not with %s', (_case, instance) => {
    expect(isRegisteredAt(instance, GATEWAY)).toBe(false);
  });

  test('not without a WAN address', () => {
    const instance = registeredAt(GATEWAY);
    expect(
      isRegisteredAt({ ...instance, service: { ...instance.service, taggedAddresses: {} } }, GATEWAY),
    ).toBe(false);
  });
});

describe('requirePassingGateway', () => {
  const withInstances = (...instances: HealthServiceInstance[]) => {
    const consul = memoryConsul();
    instances.forEach((instance, i) => consul.services.set(`${instance.service.name}-${i}`, instance));
    return consul;
  };

  test('returns a passing instance, whatever the others report', async () => {
    const passing = gatewayInstance('mesh-gateway', 'passing');
    const consul = withInstances(gatewayInstance('mesh-gateway', 'critical'), passing);
    await expect(requirePassingGateway(consul, 'dc1', 'mesh-gateway')).resolves.toEqual(passing);
    expect(consul.calls).toEqual(['healthService mesh-gateway']);
  });

  test('no instance: gateway-missing, retryable, naming the cluster and the service', async () => {
    const failure = requirePassingGateway(withInstances(), 'dc1', 'edge');
    await expect(failure).rejects.toBeInstanceOf(GatewayPreconditionError);
    await expect(failure).rejects.toBeInstanceOf(NotReadyError);
    await expect(failure).rejects.toMatchObject({ kind: 'gateway-missing', retryable: true });
    await expect(failure).rejects.toThrow(/cluster "dc1" has no mesh gateway "edge" registered/);
  });

  test('an instance of another kind (a plain service with the name) is no gateway', async () => {
    const plain = gatewayInstance('mesh-gateway');
    const consul = withInstances({ ...plain, service: { ...plain.service, kind: undefined } });
    await expect(requirePassingGateway(consul, 'dc1', 'mesh-gateway')).rejects.toMatchObject({
      kind: 'gateway-missing',
    });
  });

  test.each(['critical', 'warning'] as const)(
    'instances that are all %s: gateway-not-passing, with their number',
    async (status) => {
      const consul = withInstances(
        gatewayInstance('mesh-gateway', status),
        gatewayInstance('mesh-gateway', status),
      );
      const failure = requirePassingGateway(consul, 'dc1', 'mesh-gateway');
      await expect(failure).rejects.toMatchObject({ kind: 'gateway-not-passing', retryable: true });
      await expect(failure).rejects.toThrow(
        'cluster "dc1" has 2 mesh gateway instance(s) "mesh-gateway" but none is passing its health checks',
      );
    },
  );

  test('a passing plain service does not make up for a failing gateway', async () => {
    const plain = gatewayInstance('mesh-gateway', 'passing');
    const consul = withInstances(
      { ...plain, service: { ...plain.service, kind: undefined } },
      gatewayInstance('mesh-gateway', 'critical'),
    );
    await expect(requirePassingGateway(consul, 'dc1', 'mesh-gateway')).rejects.toThrow(/has 1 mesh gateway/);
  });
});
