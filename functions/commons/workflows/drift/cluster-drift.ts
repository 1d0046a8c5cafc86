import { peersThroughMeshGateways } from '../mesh-entry-merge';
import { MANUAL_REMEDY, remedyFor, type DriftFinding, type DriftKind } from './findings';
import type { GatewayTokenSecretState } from '../ensure-gateway-token';
import type { ClusterObservation } from './observe-cluster';

export interface ClusterFacts {
  cluster: string;
  observation: ClusterObservation;
  gatewayToken: GatewayTokenSecretState;
  gatewayService: string;
  /** The connection secret holds the gateway's addresses, so onboarding can register it again. */
  gatewayAddressesKnown: boolean;
}

/** The onboarding state of one cluster (mesh flag, gateway, gateway token) against what onboarding ensures. */
export function clusterFindings(facts: ClusterFacts): DriftFinding[] {
  const { cluster, observation, gatewayToken, gatewayService, gatewayAddressesKnown } = facts;
  const findings: DriftFinding[] = [];
  const add = (kind: DriftKind, detail: string, remedy = remedyFor(kind, gatewayAddressesKnown)): void => {
    findings.push({ kind, cluster, detail, remedy });
  };

  if (observation.mesh === undefined) {
    add(
      'mesh-config-missing',
      `${cluster} has no mesh config entry, so peering does not go through mesh gateways`,
    );
  } else if (!peersThroughMeshGateways(observation.mesh.entry)) {
    add(
      'mesh-flag-off',
      `the mesh config entry of ${cluster} does not set Peering.PeerThroughMeshGateways = true (ModifyIndex ${observation.mesh.modifyIndex})`,
    );
  }

  const gateways = observation.gateways.filter((i) => i.service.kind === 'mesh-gateway');
  if (gateways.length === 0) {
    add('gateway-missing', `${cluster} has no mesh gateway "${gatewayService}" registered`);
  } else if (!gateways.some((i) => i.status === 'passing')) {
    const statuses = gateways.map((i) => `${i.service.id}@${i.node.name} ${i.status}`).join(', ');
    add(
      'gateway-not-passing',
      `no instance of mesh gateway "${gatewayService}" on ${cluster} is passing (${statuses})`,
    );
  }

  if (gatewayToken.state === 'missing') {
    add('gateway-token-secret-missing', `the gateway ACL token secret of ${cluster} is missing`);
  } else if (gatewayToken.state === 'invalid') {
    add(
      'gateway-token-secret-missing',
      `the gateway ACL token secret of ${cluster} is not in the expected format`,
      // Onboarding refuses a malformed secret rather than guess; deleting it is a person's call.
      `${MANUAL_REMEDY}delete the malformed secret; the next run then issues a new gateway token`,
    );
  } else if (observation.gatewayTokenInConsul === false) {
    add(
      'gateway-token-missing-in-consul',
      `the gateway ACL token ${gatewayToken.accessorId} (AccessorID) of ${cluster} no longer exists in Consul`,
    );
  }
  return findings;
}
