import { DEFAULT_GATEWAY_SERVICE_NAME, type EventOf } from '../events';
import { gatewayTokenSecretName } from '../naming';
import type { WorkflowContext } from './context';
import { ensureGatewayToken } from './ensure-gateway-token';
import { ensureMeshConfig } from './ensure-mesh-config';
import { ensureMeshGatewayRegistered, requirePassingGateway } from './ensure-mesh-gateway';

/** Consul's own default (`consul connect envoy -gateway=mesh`); the events schema defaults to it too. */
export const DEFAULT_GATEWAY_SERVICE = DEFAULT_GATEWAY_SERVICE_NAME;

/**
 * `cluster.registered` → the cluster is ready to peer through mesh gateways: the gateway's ACL token,
 * the gateway registration (when the event gives its addresses), the mesh entry flag, and a passing
 * gateway. Each step is an ensure; a replay writes nothing. The gateway goes first because Consul
 * refuses to generate tokens with the flag on and no gateway registered.
 */
export async function onboardCluster(
  event: EventOf<'cluster.registered'>,
  context: WorkflowContext,
): Promise<{ changes: string[] }> {
  const { cluster, gateway } = event.data;
  const { api: consul, gatewayService } = await context.clusters.connect(cluster);
  const serviceName = gateway?.serviceName ?? gatewayService;
  const changes: string[] = [];

  const token = await ensureGatewayToken(consul, context.secrets, {
    cluster: cluster.name,
    serviceName,
    secretPrefix: context.settings.secretPrefix,
  });
  if (token.policyChanged) changes.push('gateway-policy');
  if (token.tokenCreated) changes.push('gateway-token');
  const rotation = context.gatewayTokenRotation;
  if (rotation !== undefined) {
    const secretName = gatewayTokenSecretName(context.settings.secretPrefix, cluster.name);
    if (await rotation.enable(secretName)) changes.push('gateway-token-rotation');
  }

  if (gateway !== undefined) {
    const registered = await ensureMeshGatewayRegistered(
      consul,
      { serviceName, lan: gateway.lan, wan: gateway.wan },
      context.settings.gatewayCheckInterval,
    );
    if (registered.changed) changes.push('gateway-registration');
  }

  const mesh = await ensureMeshConfig(consul);
  if (mesh.changed) changes.push('mesh-config');

  // Last, so the writes above are done even while the gateway is still starting: a retry then only
  // waits. Not waited for in-process: records of a batch run one after another, and a wait here would
  // hold back the next cluster's registration; the steps that need the gateway wait for it themselves.
  await requirePassingGateway(consul, cluster.name, serviceName);
  context.log.info('cluster onboarded', { cluster: cluster.name, changes });
  return { changes };
}
