/**
 * What `peerctl apply` will do: the fleet file (desired) against what is recorded (the connection
 * secrets `<prefix>/clusters/*` and the wanted peerings `<prefix>/peerings/*`). The comparison is pure;
 * reading the recorded state uses the registry and peering-record functions `status` and the drift
 * scan use. Consul itself is not read here: `peerctl plan` compares the records with Consul.
 */
import type { ClusterConnection } from '#commons/clusters';
import { listRegisteredClusters, listWantedPeerings, pairKey, type ClusterPair } from '#commons/registry';
import { readPeeringRecord } from '#commons/workflows/peering-record';
import type { Runtime } from '../runtime';
import type { DesiredFleet } from './read-fleet-file';

export interface RecordedState {
  /** Each registered cluster's stored connection; undefined when the secret cannot be parsed. */
  clusters: ReadonlyMap<string, ClusterConnection | undefined>;
  /** Wanted peerings with their recorded exports (undefined when the record cannot be parsed). */
  peerings: readonly (ClusterPair & { exportServices: string[] | undefined })[];
}

/** A connection's fields, named in the plan when they differ (values never shown: one is a token). */
const CONNECTION_FIELDS = [
  'address',
  'token',
  'caCert',
  'clientCert',
  'clientKey',
  'partition',
  'gateway',
] as const satisfies readonly (keyof ClusterConnection)[];

export type ClusterStep =
  | { name: string; action: 'register'; why: 'new' }
  | { name: string; action: 'register'; why: 'changed'; changed: string[] }
  | { name: string; action: 'unchanged' };

export type PeeringStep = ClusterPair & { exportServices: string[] } & (
    | { action: 'request' }
    | { action: 'update-exports'; previousExportServices: string[] | undefined }
    | { action: 'unchanged' }
  );

export interface FleetPlan {
  clusters: ClusterStep[];
  peerings: PeeringStep[];
  prune: boolean;
  /** With --prune: recorded peerings the file no longer names (unpeered first), then registrations. */
  deletions: { peerings: ClusterPair[]; clusters: string[] };
  /** Without --prune: what the file no longer names, and is kept. */
  kept: { peerings: ClusterPair[]; clusters: string[] };
  /** A wanted pair recorded the other way round and kept: apply refuses until it is unpeered or pruned. */
  conflicts: { wanted: ClusterPair; recorded: ClusterPair }[];
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
/** Field order does not matter (a secret may have been written with another key order). */
const canonical = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(
        Object.entries(value)
          .sort(([a], [b]) => byName(a, b))
          .map(([k, v]) => [k, canonical(v)]),
      )
    : value;

export function changedFields(recorded: ClusterConnection, desired: ClusterConnection): string[] {
  return CONNECTION_FIELDS.filter(
    (field) => !sameValue(canonical(recorded[field]), canonical(desired[field])),
  );
}

/** The plan: pure, so the same file and records always give the same steps. */
export function planFleet(
  desired: DesiredFleet,
  recorded: RecordedState,
  { prune }: { prune: boolean },
): FleetPlan {
  const clusters = desired.clusters.map((cluster): ClusterStep => {
    if (!recorded.clusters.has(cluster.name)) return { name: cluster.name, action: 'register', why: 'new' };
    const stored = recorded.clusters.get(cluster.name);
    const changed =
      stored === undefined ? ['connection secret unreadable'] : changedFields(stored, cluster.connection);
    return changed.length === 0
      ? { name: cluster.name, action: 'unchanged' }
      : { name: cluster.name, action: 'register', why: 'changed', changed };
  });

  const recordedByKey = new Map(recorded.peerings.map((p) => [pairKey(p), p]));
  const peerings = desired.peerings.map((peering): PeeringStep => {
    const found = recordedByKey.get(pairKey(peering));
    if (found === undefined) return { ...peering, action: 'request' };
    if (found.exportServices !== undefined && sameValue(found.exportServices, peering.exportServices))
      return { ...peering, action: 'unchanged' };
    return { ...peering, action: 'update-exports', previousExportServices: found.exportServices };
  });

  const wantedKeys = new Set(desired.peerings.map(pairKey));
  const notInFile = recorded.peerings
    .filter((p) => !wantedKeys.has(pairKey(p)))
    .map(({ acceptor, dialer }) => ({ acceptor, dialer }));
  const named = new Set(desired.clusters.map((c) => c.name));
  const clustersNotInFile = [...recorded.clusters.keys()].filter((name) => !named.has(name)).sort(byName);

  const conflicts = prune
    ? []
    : desired.peerings.flatMap((wanted) => {
        const reverse = { acceptor: wanted.dialer, dialer: wanted.acceptor };
        return recordedByKey.has(pairKey(reverse))
          ? [{ wanted: { acceptor: wanted.acceptor, dialer: wanted.dialer }, recorded: reverse }]
          : [];
      });

  return {
    clusters,
    peerings,
    prune,
    deletions: prune ? { peerings: notInFile, clusters: clustersNotInFile } : { peerings: [], clusters: [] },
    kept: prune ? { peerings: [], clusters: [] } : { peerings: notInFile, clusters: clustersNotInFile },
    conflicts,
  };
}

/** How many things the plan changes; 0 means apply writes nothing. */
export function countChanges(plan: FleetPlan): number {
  return (
    plan.clusters.filter((c) => c.action !== 'unchanged').length +
    plan.peerings.filter((p) => p.action !== 'unchanged').length +
    plan.deletions.peerings.length +
    plan.deletions.clusters.length
  );
}

/** What is recorded now: one listing per folder, then each secret read once. */
export async function readRecordedState(runtime: Runtime): Promise<RecordedState> {
  const prefix = runtime.settings.secretPrefix;
  const clusters = new Map<string, ClusterConnection | undefined>();
  for (const name of await listRegisteredClusters(runtime.secrets, prefix)) {
    // runtime.connection registers the token for redaction; an unparsable secret is a change to make.
    clusters.set(name, await runtime.connection(name).catch(() => undefined));
  }
  const peerings = [];
  for (const pair of await listWantedPeerings(runtime.secrets, prefix)) {
    const record = await readPeeringRecord(runtime.secrets, prefix, pair.acceptor, pair.dialer);
    peerings.push({ ...pair, exportServices: record?.exportServices });
  }
  return { clusters, peerings };
}

const arrow = (pair: ClusterPair): string => `${pair.acceptor} -> ${pair.dialer}`;
const exportsText = (services: readonly string[] | undefined): string =>
  services === undefined ? '(unreadable)' : services.length === 0 ? 'none' : services.join(', ');

/** The plan as a person reads it; `+` adds, `~` changes, `-` deletes, `=` is left as it is. */
export function renderPlan(plan: FleetPlan): string[] {
  const lines: string[] = [];
  lines.push('clusters');
  for (const step of plan.clusters) {
    if (step.action === 'unchanged') lines.push(`  = ${step.name}  unchanged`);
    else if (step.why === 'new') lines.push(`  + ${step.name}  register (new)`);
    else lines.push(`  ~ ${step.name}  register again (changed: ${step.changed.join(', ')})`);
  }
  lines.push('peerings');
  if (plan.peerings.length === 0) lines.push('  (none in the file)');
  for (const step of plan.peerings) {
    const exports = `exports: ${exportsText(step.exportServices)}`;
    if (step.action === 'unchanged') lines.push(`  = ${arrow(step)}  unchanged (${exports})`);
    else if (step.action === 'request') lines.push(`  + ${arrow(step)}  request (${exports})`);
    else
      lines.push(
        `  ~ ${arrow(step)}  request again (exports: ${exportsText(step.previousExportServices)} -> ${exportsText(step.exportServices)})`,
      );
  }
  if (plan.prune) {
    for (const pair of plan.deletions.peerings)
      lines.push(`  - ${arrow(pair)}  delete (not in the file; --prune)`);
    for (const name of plan.deletions.clusters)
      lines.push(`  - cluster ${name}  delete its registration (not in the file; --prune)`);
  } else if (plan.kept.peerings.length + plan.kept.clusters.length > 0) {
    lines.push('not in the file, kept (--prune would delete them)');
    for (const pair of plan.kept.peerings) lines.push(`    ${arrow(pair)}`);
    for (const name of plan.kept.clusters) lines.push(`    cluster ${name}`);
  }
  for (const { wanted, recorded } of plan.conflicts) {
    lines.push(
      `conflict: ${arrow(wanted)} is recorded the other way round (${arrow(recorded)}); unpeer it first, or apply with --prune`,
    );
  }
  const changes = countChanges(plan);
  if (changes === 0) {
    lines.push('no changes');
  } else {
    const count = (n: number, what: string): string => `${n} ${what}`;
    lines.push(
      [
        count(plan.clusters.filter((c) => c.action === 'register').length, 'to register'),
        count(plan.peerings.filter((p) => p.action === 'request').length, 'to request'),
        count(plan.peerings.filter((p) => p.action === 'update-exports').length, 'to change'),
        count(plan.deletions.peerings.length + plan.deletions.clusters.length, 'to delete'),
      ].join(', '),
    );
  }
  return lines;
}
