/**
 * The mesh gateway's ACL policy: least privilege as Consul documents it for peering through mesh
 * gateways (docs "create a mesh gateway token"; consul-k8s meshGatewayRules):
 * - `service "<gw>" write`: register itself; `service_prefix "" read` + `node_prefix "" read`: route;
 * - `peering = "read"`: without it the gateway cannot build peer-server routes and traffic silently
 *   bypasses it (consul-k8s #1685);
 * - `mesh = "write"`: the gateway's leaf certificate for peering traffic (Consul PR #15366);
 * - `agent_prefix "" read`: only what `consul connect envoy` needs to discover its agent.
 */
export function meshGatewayPolicyRules(serviceName: string): string {
  return [
    'mesh = "write"',
    'peering = "read"',
    `service "${serviceName}" { policy = "write" }`,
    'service_prefix "" { policy = "read" }',
    'node_prefix "" { policy = "read" }',
    'agent_prefix "" { policy = "read" }',
    '',
  ].join('\n');
}

export const meshGatewayPolicyName = (serviceName: string): string => `peering-automation-${serviceName}`;
