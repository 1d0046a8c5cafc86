import * as z from 'zod/mini';
import { ClusterNameSchema } from './events';
import { clusterSecretName } from './naming';
import type { SecretStore, SecretSummary } from './ports/secret-store';

/**
 * What we registered, read back from secret names alone (the naming scheme in naming.ts): no secret
 * value is read here. Secrets Manager's listing is eventually consistent: a secret created a moment ago
 * may show up only in the next listing.
 */

/** An ordered pair of clusters: `acceptor` generates the token, `dialer` establishes with it. */
export interface ClusterPair {
  acceptor: string;
  dialer: string;
}

export type RegistryEntry =
  { kind: 'cluster'; cluster: string } | { kind: 'peering' | 'peering-token'; pair: ClusterPair };

const isClusterName = (name: string): boolean => z.safeParse(ClusterNameSchema, name).success;

/** What a secret name under the prefix stands for, or undefined when it fits no part of the scheme. */
export function classifySecretName(prefix: string, name: string): RegistryEntry | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const parts = name.slice(prefix.length + 1).split('/');
  const [kind, first, second] = parts;
  if (kind === 'clusters' && parts.length === 2 && first !== undefined && isClusterName(first)) {
    return { kind: 'cluster', cluster: first };
  }
  if (
    (kind === 'peerings' || kind === 'peering-tokens') &&
    parts.length === 3 &&
    first !== undefined &&
    second !== undefined &&
    isClusterName(first) &&
    isClusterName(second)
  ) {
    return {
      kind: kind === 'peerings' ? 'peering' : 'peering-token',
      pair: { acceptor: first, dialer: second },
    };
  }
  return undefined;
}

export const pairKey = (pair: ClusterPair): string => `${pair.acceptor}/${pair.dialer}`;

const sortedPairs = (pairs: Iterable<ClusterPair>): ClusterPair[] =>
  [...pairs].sort((a, b) => (pairKey(a) < pairKey(b) ? -1 : pairKey(a) > pairKey(b) ? 1 : 0));

/** Registered clusters (those with a connection secret), sorted; one listing of `<prefix>/clusters/`. */
export async function listRegisteredClusters(secrets: SecretStore, prefix: string): Promise<string[]> {
  const listed = await secrets.list({ namePrefix: clusterSecretName(prefix, '') });
  return listed
    .flatMap(({ name }) => {
      const entry = classifySecretName(prefix, name);
      return entry?.kind === 'cluster' ? [entry.cluster] : [];
    })
    .sort();
}

/** Wanted peerings (`<prefix>/peerings/<acceptor>/<dialer>`), sorted; one listing of that folder. */
export async function listWantedPeerings(secrets: SecretStore, prefix: string): Promise<ClusterPair[]> {
  const listed = await secrets.list({ namePrefix: `${prefix}/peerings/` });
  return sortedPairs(
    listed.flatMap(({ name }) => {
      const entry = classifySecretName(prefix, name);
      return entry?.kind === 'peering' ? [entry.pair] : [];
    }),
  );
}

/** Everything a drift scan compares with Consul, from one listing of the whole prefix. */
export interface DesiredState {
  /** Clusters with a connection secret, sorted. */
  clusters: string[];
  /** Wanted peerings (`<prefix>/peerings/<acceptor>/<dialer>`), sorted. */
  peerings: ClusterPair[];
  /** Stored peering tokens (`<prefix>/peering-tokens/<acceptor>/<dialer>`), sorted. */
  peeringTokens: ClusterPair[];
  /** Every secret under the prefix as listed (names, tags, KMS keys; no values). */
  listed: SecretSummary[];
}

export async function readDesiredState(secrets: SecretStore, prefix: string): Promise<DesiredState> {
  const clusters = new Set<string>();
  const peerings = new Map<string, ClusterPair>();
  const peeringTokens = new Map<string, ClusterPair>();
  const listed = await secrets.list({ namePrefix: `${prefix}/` });
  for (const { name } of listed) {
    const entry = classifySecretName(prefix, name);
    if (entry?.kind === 'cluster') clusters.add(entry.cluster);
    else if (entry !== undefined)
      (entry.kind === 'peering' ? peerings : peeringTokens).set(pairKey(entry.pair), entry.pair);
  }
  return {
    clusters: [...clusters].sort(),
    peerings: sortedPairs(peerings.values()),
    peeringTokens: sortedPairs(peeringTokens.values()),
    listed,
  };
}
