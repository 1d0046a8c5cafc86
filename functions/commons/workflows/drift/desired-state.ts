import * as z from 'zod/mini';
import { ClusterNameSchema } from '../../events';
import type { SecretStore } from '../../ports/secret-store';

/** An ordered pair of clusters: `acceptor` generates the token, `dialer` establishes with it. */
export interface ClusterPair {
  acceptor: string;
  dialer: string;
}

/** What we registered, read from the secret store's names alone (values are read later, only when needed). */
export interface DesiredState {
  /** Clusters with a connection secret, sorted. */
  clusters: string[];
  /** Wanted peerings (`<prefix>/peerings/<acceptor>/<dialer>`), sorted. */
  peerings: ClusterPair[];
  /** Stored peering tokens (`<prefix>/peering-tokens/<acceptor>/<dialer>`), sorted. */
  peeringTokens: ClusterPair[];
}

const isClusterName = (name: string): boolean => z.safeParse(ClusterNameSchema, name).success;

/**
 * One listing of everything under the prefix, classified by the naming scheme (`naming.ts`; names that fit no part of it are ignored). Names
 * carry the clusters, so no secret value is read here. Secrets Manager's listing is eventually
 * consistent: a secret created a moment ago may show up only in the next scan.
 */
export async function readDesiredState(secrets: SecretStore, prefix: string): Promise<DesiredState> {
  const listed = await secrets.list({ namePrefix: `${prefix}/` });
  const clusters = new Set<string>();
  const peerings = new Map<string, ClusterPair>();
  const peeringTokens = new Map<string, ClusterPair>();
  for (const { name } of listed) {
    const parts = name.slice(prefix.length + 1).split('/');
    const [kind, first, second] = parts;
    if (kind === 'clusters' && parts.length === 2 && first !== undefined && isClusterName(first)) {
      clusters.add(first);
    } else if (
      (kind === 'peerings' || kind === 'peering-tokens') &&
      parts.length === 3 &&
      first !== undefined &&
      second !== undefined &&
      isClusterName(first) &&
      isClusterName(second)
    ) {
      (kind === 'peerings' ? peerings : peeringTokens).set(`${first}/${second}`, {
        acceptor: first,
        dialer: second,
      });
    }
  }
  const sorted = (pairs: Map<string, ClusterPair>): ClusterPair[] =>
    [...pairs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, pair]) => pair);
  return {
    clusters: [...clusters].sort(),
    peerings: sorted(peerings),
    peeringTokens: sorted(peeringTokens),
  };
}

export const pairKey = (pair: ClusterPair): string => `${pair.acceptor}/${pair.dialer}`;
