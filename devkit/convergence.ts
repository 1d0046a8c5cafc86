import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '#commons/json';
import { gatewayTokenSecretName, peeringRecordSecretName, peeringTokenSecretName } from '#commons/naming';
import { PeeringTokenSecretSchema } from '#commons/workflows/accept-peering';
import { GatewayTokenSecretSchema } from '#commons/workflows/ensure-gateway-token';
import { meshGatewayPolicyName } from '#commons/workflows/gateway-policy';
import type { Traffic as RelayCounters } from './sni-routing-gateway';
import { GATEWAY_SERVICE, PREFIX, type ChaosCluster, type ChaosWorld } from './chaos-world';

/** The requests a scenario sent, and the relay counters when it started. */
export interface ScenarioLedger {
  /** Correlation ids of the peering.requested events sent. */
  requests: string[];
  /** Dead letters allowed, by reason (a scenario that expects a specific failure). */
  expectedDeadLetters?: string[];
  relaysAtStart: { dc1: RelayCounters; dc2: RelayCounters };
}

export const relaySnapshot = (world: ChaosWorld) => ({
  dc1: { ...world.dc1.relay.counters.total },
  dc2: { ...world.dc2.relay.counters.total },
});

/**
 * What "converged" means after a scenario, read from Consul and Secrets Manager directly (no proxy,
 * no fault layer). Returns what is wrong; an empty list means converged:
 * - both sides ACTIVE, with traffic through both gateways since the scenario started (relay counters);
 * - exactly one gateway policy and one gateway token per cluster, the token the one in its secret;
 * - exactly one live peering-token secret for the pair (its peering id is the acceptor's peering) and
 *   no secret of ours that belongs to no cluster or wanted pair;
 * - every request ended as `peering.established`, or in the DLQ with a specific reason: requests in
 *   are counted against outcomes out.
 */
export async function convergenceViolations(world: ChaosWorld, ledger: ScenarioLedger): Promise<string[]> {
  const problems: string[] = [];
  const { dc1, dc2 } = world;
  const [a, b] = [dc1.admin(), dc2.admin()];
  try {
    const [onAcceptor, onDialer] = await Promise.all([a.readPeering(dc2.name), b.readPeering(dc1.name)]);
    if (onAcceptor?.state !== 'ACTIVE')
      problems.push(`dc1 peering "dc2" is ${onAcceptor?.state ?? 'absent'}`);
    if (onDialer?.state !== 'ACTIVE') problems.push(`dc2 peering "dc1" is ${onDialer?.state ?? 'absent'}`);
    for (const side of ['dc1', 'dc2'] as const) {
      const now = world[side].relay.counters.total;
      const then = ledger.relaysAtStart[side];
      if (now.bytesIn <= then.bytesIn || now.bytesOut <= then.bytesOut)
        problems.push(`no traffic through the ${side} gateway during the scenario`);
    }

    for (const [cluster, client] of [
      [dc1, a],
      [dc2, b],
    ] as const) {
      problems.push(...(await gatewayAclViolations(world, cluster, client)));
    }

    const tokenSecrets = await world.secrets.list({ namePrefix: `${PREFIX}/peering-tokens/` });
    const wantedToken = peeringTokenSecretName(PREFIX, dc1.name, dc2.name);
    if (tokenSecrets.length !== 1 || tokenSecrets[0]?.name !== wantedToken)
      problems.push(
        `peering-token secrets: expected exactly [${wantedToken}], got [${tokenSecrets.map((s) => s.name).join(', ')}]`,
      );
    const stored = await world.secrets.get(wantedToken);
    const token = z.safeParse(PeeringTokenSecretSchema, parseJsonOrUndefined(stored?.value ?? ''));
    if (!token.success) problems.push(`${wantedToken} is missing or malformed`);
    else if (token.data.peeringId !== onAcceptor?.id)
      problems.push(
        `${wantedToken} is for peering ${token.data.peeringId}, dc1's peering is ${onAcceptor?.id ?? 'absent'}`,
      );

    problems.push(...(await orphanSecrets(world, [[dc1.name, dc2.name]])));
    problems.push(...outcomeViolations(world, ledger));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  return problems;
}

async function gatewayAclViolations(
  world: ChaosWorld,
  cluster: ChaosCluster,
  client: ReturnType<ChaosCluster['admin']>,
): Promise<string[]> {
  const problems: string[] = [];
  const policyName = meshGatewayPolicyName(GATEWAY_SERVICE);
  const policies = (await listPolicies(cluster)).filter((p) => p.Name === policyName);
  if (policies.length !== 1) {
    problems.push(`${cluster.name}: ${policies.length} gateway policies named ${policyName}`);
    return problems;
  }
  const tokens = await client.listTokensByPolicy(policies[0]?.ID ?? '');
  const secret = await world.secrets.get(gatewayTokenSecretName(PREFIX, cluster.name));
  const parsed = z.safeParse(GatewayTokenSecretSchema, parseJsonOrUndefined(secret?.value ?? ''));
  if (tokens.length !== 1) problems.push(`${cluster.name}: ${tokens.length} gateway tokens, expected 1`);
  if (!parsed.success) problems.push(`${cluster.name}: gateway token secret missing or malformed`);
  else if (tokens[0]?.accessorId !== parsed.data.accessorId)
    problems.push(`${cluster.name}: the gateway token in Consul is not the one in its secret`);
  return problems;
}

async function listPolicies(cluster: ChaosCluster): Promise<{ ID: string; Name: string }[]> {
  const response = await fetch(`${cluster.consul.address}/v1/acl/policies`, {
    headers: { 'X-Consul-Token': cluster.consul.managementToken },
    signal: AbortSignal.timeout(10_000),
  });
  return (await response.json()) as { ID: string; Name: string }[];
}

/** Secrets of ours that no registered cluster or wanted pair accounts for. */
export async function orphanSecrets(world: ChaosWorld, pairs: [string, string][]): Promise<string[]> {
  const clusters = [world.dc1.name, world.dc2.name];
  const allowed = new Set([
    ...clusters.map((c) => `${PREFIX}/clusters/${c}`),
    ...clusters.map((c) => gatewayTokenSecretName(PREFIX, c)),
    ...pairs.flatMap(([acc, dial]) => [
      peeringTokenSecretName(PREFIX, acc, dial),
      peeringRecordSecretName(PREFIX, acc, dial),
    ]),
  ]);
  const all = await world.secrets.list({ namePrefix: `${PREFIX}/` });
  return all.filter((s) => !allowed.has(s.name)).map((s) => `orphan secret ${s.name}`);
}

/** Requests in against outcomes out: each ended established, or dead-lettered with a specific reason. */
export function outcomeViolations(world: ChaosWorld, ledger: ScenarioLedger): string[] {
  const problems: string[] = [];
  const mine = new Set(ledger.requests);
  const letters = world.pipeline
    .deadLettered()
    .filter((d) => d.correlationId !== undefined && mine.has(d.correlationId));
  for (const id of ledger.requests) {
    const established = world.pipeline
      .outcomes()
      .some((o) => o.correlationId === id && o.type === 'peering.established');
    const lettered = letters.filter((d) => d.correlationId === id);
    if (!established && lettered.length === 0) problems.push(`request ${id}: no outcome (lost)`);
  }
  for (const letter of letters) {
    const type = (parseJsonOrUndefined(letter.body) as { type?: unknown } | undefined)?.type;
    const what = `request ${letter.correlationId ?? '?'}: its ${typeof type === 'string' ? type : 'message'}`;
    if (letter.reason === 'retries-exhausted')
      problems.push(
        `${what} was dead-lettered without a specific reason (SQS redrive after maxReceiveCount)`,
      );
    else if (!(ledger.expectedDeadLetters ?? []).includes(letter.reason))
      problems.push(`${what} was dead-lettered (${letter.reason}: ${letter.error.slice(0, 200)})`);
  }
  return problems;
}

/** After an unpeer: no peering on either side, and neither the token secret nor the wanted-peering record. */
export async function unpeeredViolations(world: ChaosWorld): Promise<string[]> {
  const problems: string[] = [];
  const [a, b] = [world.dc1.admin(), world.dc2.admin()];
  try {
    const [onAcceptor, onDialer] = await Promise.all([
      a.readPeering(world.dc2.name),
      b.readPeering(world.dc1.name),
    ]);
    if (onAcceptor !== undefined) problems.push(`dc1 still has peering "dc2" (${onAcceptor.state})`);
    if (onDialer !== undefined) problems.push(`dc2 still has peering "dc1" (${onDialer.state})`);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  problems.push(...(await orphanSecrets(world, [])));
  return problems;
}
