import { randomUUID } from 'node:crypto';
import { parseConnection } from '../../clusters';
import { createEvent, type ClusterRef, type EventOf, type PipelineEvent } from '../../events';
import { clusterSecretName, peeringTokenSecretName } from '../../naming';
import type { WorkflowContext } from '../context';
import { readPeeringRecord } from '../peering-record';
import { pairKey, type ClusterPair } from '../../registry';
import {
  CLUSTER_KINDS,
  isAutomatic,
  NEEDS_NEW_TOKEN,
  PEERING_KINDS,
  type DriftReport,
  type RemediationResult,
} from './findings';

/**
 * Heals a scan's findings through the pipeline itself, so every fix is the same idempotent ensure a
 * request would run:
 * - cluster findings → one `cluster.registered` per cluster (with the gateway addresses from its
 *   connection secret, when it has them): onboarding re-creates what is missing;
 * - peering findings → one `peering.requested` per wanted pair, asking for a new token when the
 *   stored one cannot complete the peering (missing side, TERMINATED, PENDING too long);
 * - orphan peering-token secrets → deleted, after checking again that no wanted peering appeared.
 * Findings whose remedy needs a person are left alone. All events of a run share one correlation id.
 * A dry run reads what it needs but publishes and deletes nothing; it returns what it would have done.
 */
export async function remediateDrift(
  report: DriftReport,
  context: WorkflowContext,
  options: { dryRun?: boolean } = {},
): Promise<RemediationResult> {
  const dryRun = options.dryRun === true;
  const prefix = context.settings.secretPrefix;
  const correlationId = `drift-${randomUUID()}`;
  const ref = (name: string): ClusterRef => ({ name, connectionSecret: clusterSecretName(prefix, name) });
  const automatic = report.findings.filter(isAutomatic);

  const clusters = [...new Set(automatic.filter((f) => CLUSTER_KINDS.has(f.kind)).map((f) => f.cluster))];
  const pairs = new Map<string, ClusterPair & { newToken: boolean }>();
  const orphans = new Map<string, ClusterPair>();
  for (const finding of automatic) {
    if (finding.peer === undefined) continue;
    const pair = { acceptor: finding.cluster, dialer: finding.peer };
    if (PEERING_KINDS.has(finding.kind)) {
      const known = pairs.get(pairKey(pair));
      pairs.set(pairKey(pair), {
        ...pair,
        newToken: (known?.newToken ?? false) || NEEDS_NEW_TOKEN.has(finding.kind),
      });
    } else if (finding.kind === 'orphan-peering-token') {
      orphans.set(pairKey(pair), pair);
    }
  }

  const events: PipelineEvent[] = [];
  for (const cluster of clusters) {
    events.push(await clusterRegistered(context, ref(cluster), correlationId));
  }
  for (const pair of pairs.values()) {
    events.push(
      createEvent(
        'peering.requested',
        {
          acceptor: ref(pair.acceptor),
          dialer: ref(pair.dialer),
          // Omitted exports keep the recorded ones (ensurePeeringRecord).
          ...(pair.newToken ? { regenerateToken: true } : {}),
        },
        { correlationId },
      ),
    );
  }

  const deletions: string[] = [];
  for (const pair of orphans.values()) {
    // A request for this pair since the scan makes the token wanted again: leave it to that request.
    if ((await readPeeringRecord(context.secrets, prefix, pair.acceptor, pair.dialer)) !== undefined)
      continue;
    deletions.push(peeringTokenSecretName(prefix, pair.acceptor, pair.dialer));
  }

  if (!dryRun) {
    for (const event of events) await context.events.publish(event);
    for (const name of deletions) await context.secrets.delete(name, { forceWithoutRecovery: true });
  }
  return { published: events, deletedSecrets: deletions };
}

/** Onboarding again, with the gateway addresses the cluster was registered with, so it can re-register it. */
async function clusterRegistered(
  context: WorkflowContext,
  cluster: ClusterRef,
  correlationId: string,
): Promise<EventOf<'cluster.registered'>> {
  const stored = await context.secrets.get(cluster.connectionSecret);
  const gateway = stored === undefined ? undefined : parseConnection(cluster.name, stored.value).gateway;
  return createEvent(
    'cluster.registered',
    { cluster, ...(gateway === undefined ? {} : { gateway }) },
    { correlationId },
  );
}
