import type { Peering } from '../../ports/consul-types';
import type { ClusterPair } from '../../registry';
import { remedyFor, type DriftFinding, type DriftKind } from './findings';

/** The stored peering token of a pair, as far as its age goes. */
export type StoredTokenAge =
  | { state: 'missing' }
  | { state: 'invalid' }
  | { state: 'present'; peeringId: string; generatedAt: Date | undefined };

export interface PeeringFacts {
  pair: ClusterPair;
  /** The acceptor's peering named after the dialer, if any. */
  acceptorSide: Peering | undefined;
  /** The dialer's peering named after the acceptor, if any. */
  dialerSide: Peering | undefined;
  now: Date;
  pendingTooLongMs: number;
  /** Read only when a side is PENDING: the token's age tells a peering in progress from a stuck one. */
  storedToken: () => Promise<StoredTokenAge>;
}

/**
 * At most one finding per wanted pair, the state of the pair as a whole, so one cause is reported
 * once (a dialer that deleted its side shows as TERMINATED on the acceptor and absent on the dialer:
 * that is one `peering-terminated`). In order:
 * - TERMINATED on either side: the peer deleted its side;
 * - PENDING on either side: fine while the token is young (the pipeline is at work), stuck after;
 * - absent (or DELETING) on either side;
 * - FAILING on either side: the stream is interrupted with an error.
 * ACTIVE and ESTABLISHING are healthy; states this client does not know are left alone.
 */
export async function peeringFindings(facts: PeeringFacts): Promise<DriftFinding[]> {
  const { pair, acceptorSide, dialerSide } = facts;
  const sides = [acceptorSide, dialerSide];
  const describe = `${pair.acceptor} (acceptor): ${stateOf(acceptorSide)}; ${pair.dialer} (dialer): ${stateOf(dialerSide)}`;
  const finding = (kind: DriftKind, why: string): DriftFinding[] => [
    {
      kind,
      cluster: pair.acceptor,
      peer: pair.dialer,
      detail: `${why} (${describe})`,
      remedy: remedyFor(kind),
    },
  ];

  if (sides.some((s) => s?.state === 'TERMINATED')) {
    return finding('peering-terminated', 'one side deleted the peering; the other keeps a TERMINATED record');
  }
  if (sides.some((s) => s?.state === 'PENDING')) {
    const stuck = await pendingTooLong(facts);
    return stuck === undefined ? [] : finding('peering-pending-too-long', stuck);
  }
  if (sides.some((s) => s === undefined || s.state === 'DELETING')) {
    return finding('peering-missing', 'the wanted peering is not in place on both sides');
  }
  if (sides.some((s) => s?.state === 'FAILING')) {
    return finding('peering-failing', 'the peering stream is interrupted with an error');
  }
  return [];
}

/** Why a PENDING peering counts as stuck, or undefined while its token is young enough to be in use. */
async function pendingTooLong(facts: PeeringFacts): Promise<string | undefined> {
  const token = await facts.storedToken();
  if (token.state === 'missing') return 'PENDING, and no peering token is stored for the dialer to use';
  if (token.state === 'invalid')
    return 'PENDING, and the stored peering token secret is not in the expected format';
  if (facts.acceptorSide !== undefined && token.peeringId !== facts.acceptorSide.id) {
    return 'PENDING, and the stored peering token belongs to an older peering';
  }
  if (token.generatedAt === undefined) return 'PENDING, with a stored token of unknown age (no generatedAt)';
  const ageMs = facts.now.getTime() - token.generatedAt.getTime();
  if (ageMs <= facts.pendingTooLongMs) return undefined;
  return `PENDING ${duration(ageMs)} after its token was generated (limit ${duration(facts.pendingTooLongMs)})`;
}

function stateOf(peering: Peering | undefined): string {
  if (peering === undefined) return 'absent';
  return peering.rawState === '' ? peering.state : peering.rawState;
}

const duration = (ms: number): string =>
  ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
