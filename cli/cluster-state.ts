/** What Consul says about a cluster's readiness to peer through mesh gateways (read-only). */
import type { Peering } from '#commons/ports/consul-types';
import { DEFAULT_GATEWAY_SERVICE_NAME, type HostPort } from '#commons/events/index';
import { gatewayTokenSecretName } from '#commons/naming';
import type { ConsulApi } from '#commons/ports/consul-api';
import type { SecretStore } from '#commons/ports/secret-store';
import { gatewayTokenSecretState } from '#commons/workflows/ensure-gateway-token';
import { observeCluster } from '#commons/workflows/drift/observe-cluster';
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
  /** How many peerings the cluster has, of any state. */
  peerings: number;
}

export interface RequestedGateway {
  serviceName?: string;
  lan: HostPort;
  wan: HostPort;
}

/**
 * The drift scan's own observation of the cluster (one pass: mesh entry, gateway health, peerings,
 * gateway token), read as onboarding's progress. The same reads, so `status` and drift never disagree.
 */
export async function readOnboardingState(
  consul: ConsulApi,
  secrets: SecretStore,
  context: {
    secretPrefix: string;
    cluster: string;
    gatewayService?: string | undefined;
    requested?: RequestedGateway;
  },
): Promise<OnboardingState> {
  const service = context.requested?.serviceName ?? context.gatewayService ?? DEFAULT_GATEWAY_SERVICE_NAME;
  const stored = gatewayTokenSecretState(
    await secrets.get(gatewayTokenSecretName(context.secretPrefix, context.cluster)),
  );
  const observed = await observeCluster(consul, { gatewayService: service, gatewayToken: stored });
  const gateways = observed.gateways.filter((i) => i.service.kind === 'mesh-gateway');
  const gateway: GatewayHealth = {
    service,
    instances: gateways.length,
    passing: gateways.filter((i) => i.status === 'passing').length,
  };
  if (context.requested !== undefined) {
    const requested = context.requested;
    gateway.atRequestedAddresses = gateways.some((i) => isRegisteredAt(i, requested));
  }
  const gatewayToken: GatewayTokenState =
    stored.state === 'missing'
      ? 'no-secret'
      : stored.state === 'invalid'
        ? 'invalid-secret'
        : observed.gatewayTokenInConsul === true
          ? 'present'
          : 'absent-in-consul';
  return {
    gateway,
    meshThroughGateways: peersThroughMeshGateways(observed.mesh?.entry),
    gatewayToken,
    peerings: observed.peerings.length,
  };
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

/** A dialing record carries the peer's server addresses; an accepting one does not. */
export const roleOf = (peering: Peering): 'acceptor' | 'dialer' =>
  isDialingRecord(peering) ? 'dialer' : 'acceptor';
