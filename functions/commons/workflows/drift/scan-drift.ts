import * as z from 'zod/mini';
import type { ConnectedCluster } from '../../clusters';
import { ConsulError } from '#commons/ports/consul-error';
import { ValidationError } from '../../errors';
import { parseJsonOrUndefined } from '../../json';
import { clusterSecretName, gatewayTokenSecretName, peeringTokenSecretName } from '../../naming';
import type { SecretValue } from '../../ports/secret-store';
import { PeeringTokenSecretSchema } from '../accept-peering';
import type { WorkflowContext } from '../context';
import { mapWithConcurrency } from '../../bounded-concurrency';
import { clusterFindings } from './cluster-drift';
import { pairKey, readDesiredState, type ClusterPair } from '../../registry';
import { MANUAL_REMEDY, remedyFor, type DriftFinding, type DriftReport } from './findings';
import { observeCluster, type ClusterObservation } from './observe-cluster';
import { peeringFindings, type StoredTokenAge } from './peering-drift';
import { secretKeyFindings } from './secret-keys';
import { gatewayTokenSecretState } from '../ensure-gateway-token';

export type { DriftFinding, DriftKind, DriftReport } from './findings';
export { remediateDrift } from './remediate-drift';

export const DEFAULT_SCAN_CONCURRENCY = 4;
export const DEFAULT_PENDING_TOO_LONG_MS = 15 * 60_000;
/** A cluster's reads share one deadline, so a black-holed cluster holds a concurrency slot this long at most. */
export const CLUSTER_READ_TIMEOUT_MS = 20_000;

interface ClusterScan {
  cluster: string;
  findings: DriftFinding[];
  /** Undefined when the cluster could not be read. */
  observation?: ClusterObservation;
}

/**
 * Compares the desired state (what we registered in the secret store) with Consul, read-only. Per
 * cluster at most four Consul reads whatever the number of peerings (`observeCluster`): calls grow
 * linearly with clusters. `concurrency` clusters are read at once; one that cannot be read becomes a
 * `cluster-unreachable` finding and the others are still scanned. A converged fleet gives no findings.
 */
export async function scanDrift(
  context: WorkflowContext,
  options: { concurrency?: number; pendingTooLongMs?: number } = {},
): Promise<DriftReport> {
  const concurrency = options.concurrency ?? DEFAULT_SCAN_CONCURRENCY;
  const pendingTooLongMs = options.pendingTooLongMs ?? DEFAULT_PENDING_TOO_LONG_MS;
  const now = context.clock.now();
  const prefix = context.settings.secretPrefix;
  const desired = await readDesiredState(context.secrets, prefix);

  let consulCalls = 0;
  const countCall = (): void => {
    consulCalls += 1;
  };
  const scans = await mapWithConcurrency(desired.clusters, concurrency, (cluster) =>
    scanCluster(cluster, context, countCall),
  );
  const findings = scans.flatMap((scan) => scan.findings);
  const byCluster = new Map(scans.map((scan) => [scan.cluster, scan]));

  const unregistered = new Set<string>();
  for (const pair of desired.peerings) {
    for (const name of [pair.acceptor, pair.dialer]) {
      if (byCluster.has(name) || unregistered.has(name)) continue;
      unregistered.add(name);
      findings.push({
        kind: 'cluster-unreachable',
        cluster: name,
        detail: `the wanted peering ${pairKey(pair)} names ${name}, which has no connection secret (${clusterSecretName(prefix, name)})`,
        remedy: `${MANUAL_REMEDY}register the cluster, or delete the wanted peering`,
      });
    }
    const acceptor = byCluster.get(pair.acceptor)?.observation;
    const dialer = byCluster.get(pair.dialer)?.observation;
    if (acceptor === undefined || dialer === undefined) continue; // reported as cluster-unreachable
    findings.push(
      ...(await peeringFindings({
        pair,
        acceptorSide: acceptor.peerings.find((p) => p.name === pair.dialer),
        dialerSide: dialer.peerings.find((p) => p.name === pair.acceptor),
        now,
        pendingTooLongMs,
        storedToken: () => readTokenAge(context, pair),
      })),
    );
  }

  const wanted = new Set(desired.peerings.map(pairKey));
  for (const token of desired.peeringTokens) {
    if (wanted.has(pairKey(token))) continue;
    findings.push({
      kind: 'orphan-peering-token',
      cluster: token.acceptor,
      peer: token.dialer,
      detail: `the peering token secret ${peeringTokenSecretName(prefix, token.acceptor, token.dialer)} belongs to no wanted peering`,
      remedy: remedyFor('orphan-peering-token'),
    });
  }

  findings.push(...secretKeyFindings(prefix, desired.listed, context.settings.secretsKmsKeyId));

  return {
    scannedAt: now.toISOString(),
    clusters: desired.clusters.length,
    peerings: desired.peerings.length,
    findings: findings.sort(byClusterPeerKind),
    consulCalls,
  };
}

async function scanCluster(
  cluster: string,
  context: WorkflowContext,
  countCall: () => void,
): Promise<ClusterScan> {
  const prefix = context.settings.secretPrefix;
  const ref = { name: cluster, connectionSecret: clusterSecretName(prefix, cluster) };
  const unreachable = (detail: string): ClusterScan => ({
    cluster,
    findings: [{ kind: 'cluster-unreachable', cluster, detail, remedy: remedyFor('cluster-unreachable') }],
  });
  // Secret store failures are the scan's own (it cannot know the desired state): they propagate.
  // A connection secret deleted during the scan, or malformed, is a ValidationError: unreachable.
  let connected: ConnectedCluster;
  let tokenSecret: SecretValue | undefined;
  try {
    [connected, tokenSecret] = await Promise.all([
      context.clusters.connect(ref),
      context.secrets.get(gatewayTokenSecretName(prefix, cluster)),
    ]);
  } catch (error) {
    if (error instanceof ValidationError) return unreachable(messageOf(error));
    throw error;
  }
  const { api: consul, connection, gatewayService } = connected;
  const gatewayToken = gatewayTokenSecretState(tokenSecret);
  try {
    const observation = await observeCluster(consul, {
      gatewayService,
      gatewayToken,
      signal: AbortSignal.timeout(CLUSTER_READ_TIMEOUT_MS),
      countCall,
    });
    const findings = clusterFindings({
      cluster,
      observation,
      gatewayToken,
      gatewayService,
      gatewayAddressesKnown: connection.gateway !== undefined,
    });
    return { cluster, findings, observation };
  } catch (error) {
    if (!cannotReadCluster(error)) throw error;
    const why = isDeadline(error) ? `no answer within ${CLUSTER_READ_TIMEOUT_MS / 1000} s` : messageOf(error);
    return unreachable(`cannot read the Consul of ${cluster} at ${connection.address}: ${why}`);
  }
}

/** Consul's refusals and failures, a bad connection secret, and our own deadline: all mean "cannot read it". */
function cannotReadCluster(error: unknown): boolean {
  return error instanceof ConsulError || error instanceof ValidationError || isDeadline(error);
}

/** What the client rejects with when the scan's AbortSignal.timeout fires. */
function isDeadline(error: unknown): boolean {
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined;
  return name === 'TimeoutError' || name === 'AbortError';
}

async function readTokenAge(context: WorkflowContext, pair: ClusterPair): Promise<StoredTokenAge> {
  const name = peeringTokenSecretName(context.settings.secretPrefix, pair.acceptor, pair.dialer);
  const stored = await context.secrets.get(name);
  if (stored === undefined) return { state: 'missing' };
  const parsed = z.safeParse(PeeringTokenSecretSchema, parseJsonOrUndefined(stored.value));
  if (!parsed.success) return { state: 'invalid' };
  const generatedAt = parsed.data.generatedAt === undefined ? undefined : new Date(parsed.data.generatedAt);
  return {
    state: 'present',
    peeringId: parsed.data.peeringId,
    generatedAt: generatedAt === undefined || Number.isNaN(generatedAt.getTime()) ? undefined : generatedAt,
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function byClusterPeerKind(a: DriftFinding, b: DriftFinding): number {
  const key = (f: DriftFinding): string => `${f.cluster}\u0000${f.peer ?? ''}\u0000${f.kind}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
