import type { HealthServiceInstance } from '../ports/consul-types';
import { NotReadyError } from '../errors';
import type { HostPort } from '../events';
import type { ConsulApi } from '../ports/consul-api';

export interface GatewayAddresses {
  serviceName: string;
  lan: HostPort;
  wan: HostPort;
}

/**
 * Ensures a mesh gateway is registered, in the shape `consul connect envoy -gateway=mesh -register`
 * gives it (docs/consul-behaviour.md §3.1), with a TCP check on its LAN address. Written only when the registered
 * instance differs from the wanted addresses. The `wan` address is what peering tokens will carry.
 */
export async function ensureMeshGatewayRegistered(
  consul: ConsulApi,
  gateway: GatewayAddresses,
  checkInterval: string,
): Promise<{ changed: boolean }> {
  const instances = await consul.healthService(gateway.serviceName);
  const current = instances.find((i) => i.service.id === gateway.serviceName);
  if (current !== undefined && isRegisteredAt(current, gateway)) return { changed: false };
  const lan = { Address: gateway.lan.address, Port: gateway.lan.port };
  await consul.registerAgentService({
    Kind: 'mesh-gateway',
    ID: gateway.serviceName,
    Name: gateway.serviceName,
    Address: gateway.lan.address,
    Port: gateway.lan.port,
    TaggedAddresses: { lan, wan: { Address: gateway.wan.address, Port: gateway.wan.port } },
    Proxy: { Config: { envoy_gateway_no_default_bind: true, envoy_gateway_bind_tagged_addresses: true } },
    Meta: { 'managed-by': 'consul-peering-automation' },
    Check: {
      Name: 'mesh-gateway listening',
      TCP: `${gateway.lan.address}:${gateway.lan.port}`,
      Interval: checkInterval,
      DeregisterCriticalServiceAfter: '6h',
    },
  });
  return { changed: true };
}

/** A mesh-gateway instance registered at exactly these LAN and WAN addresses. */
export function isRegisteredAt(
  instance: HealthServiceInstance,
  gateway: Pick<GatewayAddresses, 'lan' | 'wan'>,
): boolean {
  const wan = instance.service.taggedAddresses.wan;
  return (
    instance.service.kind === 'mesh-gateway' &&
    instance.service.address === gateway.lan.address &&
    instance.service.port === gateway.lan.port &&
    wan?.address === gateway.wan.address &&
    wan.port === gateway.wan.port
  );
}

/**
 * The gateway precondition of peering through mesh gateways: at least one instance passing its
 * checks. Consul itself puts unhealthy instances into tokens and dials them (no health filter), so
 * we check before generating a token or establishing. A missing gateway would make the dialer fall
 * back to dialing the peer directly, silently bypassing the gateway, so it is refused here.
 */
export async function requirePassingGateway(
  consul: ConsulApi,
  cluster: string,
  serviceName: string,
): Promise<HealthServiceInstance> {
  const instances = await consul.healthService(serviceName);
  const gateways = instances.filter((i) => i.service.kind === 'mesh-gateway');
  const passing = gateways.find((i) => i.status === 'passing');
  if (passing !== undefined) return passing;
  if (gateways.length === 0) {
    throw new GatewayPreconditionError(
      `cluster "${cluster}" has no mesh gateway "${serviceName}" registered; register one (cluster.registered with gateway addresses, or consul connect envoy -gateway=mesh -register)`,
      'gateway-missing',
    );
  }
  throw new GatewayPreconditionError(
    `cluster "${cluster}" has ${gateways.length} mesh gateway instance(s) "${serviceName}" but none is passing its health checks`,
    'gateway-not-passing',
  );
}

export class GatewayPreconditionError extends NotReadyError {
  constructor(
    message: string,
    readonly kind: 'gateway-missing' | 'gateway-not-passing' | 'mesh-config-missing',
  ) {
    super(message);
  }
}
