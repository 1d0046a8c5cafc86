import { meshGatewayPolicyName, meshGatewayPolicyRules } from './gateway-policy';

// The gateway's ACL policy is a security property: exactly these rules, no more (see the sources in
// gateway-policy.ts); a change here must be a decision, not an accident.
test('the mesh gateway policy grants exactly what peering through it needs', () => {
  expect(meshGatewayPolicyRules('edge-gw')).toBe(
    [
      'mesh = "write"',
      'peering = "read"',
      'service "edge-gw" { policy = "write" }',
      'service_prefix "" { policy = "read" }',
      'node_prefix "" { policy = "read" }',
      'agent_prefix "" { policy = "read" }',
      '',
    ].join('\n'),
  );
});

test('the policy is named for the gateway service', () => {
  expect(meshGatewayPolicyName('edge-gw')).toBe('peering-automation-edge-gw');
});
