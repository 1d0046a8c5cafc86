import type { HealthServiceInstance, Peering, RawConfigEntry } from '../../ports/consul-types';
import type { ConsulApi } from '../../ports/consul-api';
import type { GatewayTokenSecretState } from '../ensure-gateway-token';

/** One cluster's actual state, as read in one pass. */
export interface ClusterObservation {
  mesh: RawConfigEntry | undefined;
  gateways: HealthServiceInstance[];
  /** Every peering of the cluster with its state: one list answers for all its pairs. */
  peerings: Peering[];
  /** Undefined when there was no usable accessor ID to look up. */
  gatewayTokenInConsul: boolean | undefined;
}

/**
 * The drift scan's reads of one cluster, and nothing else: the mesh entry, the gateway's health, the
 * peering list and the gateway's ACL token. At most four calls whatever the number of peerings, sent
 * together (a cluster is one unit of the scan's concurrency), all under one deadline. `peerctl status`
 * and `cluster add` read onboarding's progress from the same observation.
 */
export async function observeCluster(
  consul: ConsulApi,
  {
    gatewayService,
    gatewayToken,
    signal,
    countCall,
  }: {
    gatewayService: string;
    gatewayToken: GatewayTokenSecretState;
    signal?: AbortSignal;
    /** The scan counts its Consul calls; `peerctl status` does not. */
    countCall?: () => void;
  },
): Promise<ClusterObservation> {
  const counted = <T>(call: () => Promise<T>): Promise<T> => {
    countCall?.();
    return call();
  };
  const [mesh, gateways, peerings, token] = await Promise.all([
    counted(() => consul.readConfigEntryRaw('mesh', 'mesh', { signal })),
    counted(() => consul.healthService(gatewayService, { signal })),
    counted(() => consul.listPeerings({ signal })),
    gatewayToken.state === 'present'
      ? counted(() => consul.readToken(gatewayToken.accessorId, { signal }))
      : Promise.resolve(undefined),
  ]);
  return {
    mesh,
    gateways,
    peerings,
    gatewayTokenInConsul: gatewayToken.state === 'present' ? token !== undefined : undefined,
  };
}
