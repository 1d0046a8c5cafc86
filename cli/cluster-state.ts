/** What Consul says about a cluster's readiness to peer through mesh gateways (read-only). */
import type { ConsulClient } from '#commons/consul/client';
import type { Peering } from '#commons/consul/types';
import { DEFAULT_GATEWAY_SERVICE_NAME, type HostPort } from '#commons/events/index';
import { gatewayTokenSecretName } from '#commons/naming';
import type { SecretStore } from '#commons/ports/secret-store';
import { gatewayTokenSecretState } from '#commons/workflows/ensure-gateway-token';
import { isRegisteredAt } from '#commons/workflows/ensure-mesh-gateway';
import { peersThroughMeshGateways } from '#commons/workflows/mesh-entry-merge';
import { isDialingRecord } from '#commons/workflows/peering-role';

export interface GatewayHealth {
  service: string;
  /** `kind: mesh-gateway` instances registered under the service name. */
  instances: number;
  passing: number;
  /** When addresses were asked for: an instance is registered at exactly those. */
  atRequestedAddresses?: boolean;
}

export type GatewayTokenState = 'present' | 'absent-in-consul' | 'no-secret' | 'invalid-secret';

export interface OnboardingState {
  gateway: GatewayHealth;
  meshThroughGateways: boolean;
  gatewayToken: GatewayTokenState;
}

export interface RequestedGateway {
  serviceName?: string;
  lan: HostPort;
  wan: HostPort;
}

export async function readOnboardingState(
  consul: ConsulClient,
  secrets: SecretStore,
  context: {
    secretPrefix: string;
    cluster: string;
    gatewayService?: string | undefined;
    requested?: RequestedGateway;
  },
): Promise<OnboardingState> {
  const service = context.requested?.serviceName ?? context.gatewayService ?? DEFAULT_GATEWAY_SERVICE_NAME;
  const [instances, mesh, gatewayToken] = await Promise.all([
    consul.healthService(service),
    consul.readConfigEntryRaw('mesh', 'mesh'),
    readGatewayTokenState(consul, secrets, gatewayTokenSecretName(context.secretPrefix, context.cluster)),
  ]);
  const gateways = instances.filter((i) => i.service.kind === 'mesh-gateway');
  const gateway: GatewayHealth = {
    service,
    instances: gateways.length,
    passing: gateways.filter((i) => i.status === 'passing').length,
  };
  if (context.requested !== undefined) {
    const requested = context.requested;
    gateway.atRequestedAddresses = gateways.some((i) => isRegisteredAt(i, requested));
  }
  return { gateway, meshThroughGateways: peersThroughMeshGateways(mesh?.entry), gatewayToken };
}

/** Onboarding's end state: gateway token in Consul, a passing gateway (at the asked addresses), the mesh flag. */
export function isOnboarded(state: OnboardingState): boolean {
  return (
    state.gatewayToken === 'present' &&
    state.meshThroughGateways &&
    state.gateway.passing > 0 &&
    state.gateway.atRequestedAddresses !== false
  );
}

export function describeGateway(gateway: GatewayHealth): string {
  if (gateway.instances === 0) return `${gateway.service} missing`;
  const health = gateway.passing > 0 ? 'passing' : 'not passing';
  const where = gateway.atRequestedAddresses === false ? ', not yet at the given addresses' : '';
  return `${gateway.service} ${health} (${gateway.passing}/${gateway.instances})${where}`;
}

export const describeGatewayToken = (state: GatewayTokenState): string =>
  ({
    present: 'in Consul',
    'absent-in-consul': 'missing in Consul',
    'no-secret': 'not issued',
    'invalid-secret': 'secret unreadable',
  })[state];

export function describeOnboarding(state: OnboardingState): string {
  return `gateway token ${describeGatewayToken(state.gatewayToken)}, gateway ${describeGateway(state.gateway)}, mesh flag ${state.meshThroughGateways ? 'on' : 'off'}`;
}

/** The gateway token lives in the secret store (its accessor id) and in Consul; both must be there. */
async function readGatewayTokenState(
  consul: ConsulClient,
  secrets: SecretStore,
  secretName: string,
): Promise<GatewayTokenState> {
  const stored = gatewayTokenSecretState(await secrets.get(secretName));
  if (stored.state === 'missing') return 'no-secret';
  if (stored.state === 'invalid') return 'invalid-secret';
  return (await consul.readToken(stored.accessorId)) === undefined ? 'absent-in-consul' : 'present';
}

/** A dialing record carries the peer's server addresses; an accepting one does not. */
export const roleOf = (peering: Peering): 'acceptor' | 'dialer' =>
  isDialingRecord(peering) ? 'dialer' : 'acceptor';
