import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '../json';
import { isConsulError } from '#commons/ports/consul-error';
import type { Peering } from '../ports/consul-types';
import { NotReadyError, PermanentError } from '../errors';
import { createEvent, type EventOf } from '../events';
import {
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  peeringTokenSecretName,
  TAG_ACCEPTOR,
  TAG_DIALER,
  TAG_KIND,
} from '../naming';
import type { ConsulApi } from '../ports/consul-api';
import type { WorkflowContext } from './context';
import { GatewayPreconditionError, requirePassingGateway } from './ensure-mesh-gateway';
import { peersThroughMeshGateways } from './mesh-entry-merge';
import { ensureExportedServices } from './ensure-exported-services';
import { pairLockOf, withPairLock } from './pair-lock';
import { ensurePeeringRecord } from './peering-record';
import { isDialingRecord } from './peering-role';
import { untilReady } from './until-ready';

/** The value of a peering-token secret. The token is single-use; `peeringId` ties it to one peering. */
export const PeeringTokenSecretSchema = z.strictObject({
  peeringToken: z.string(),
  peeringId: z.string(),
  acceptor: z.string(),
  dialer: z.string(),
  /** ISO time; a token still unused long after this is drift (PENDING too long). */
  generatedAt: z.optional(z.string()),
  /** The id of the request that generated it, so a redelivered regeneration reuses it. */
  requestId: z.optional(z.string()),
});
export type PeeringTokenSecret = z.infer<typeof PeeringTokenSecretSchema>;

/**
 * `peering.requested` → on the acceptor: check the preconditions, then make sure a usable peering
 * token exists in the secret store, and hand over to the dialer with `peering.acceptor-ready`
 * (carrying the secret's name and version, never the token).
 *
 * Ordering rule (Consul): the acceptor's mesh entry must have PeerThroughMeshGateways BEFORE the token
 * is generated, or the token carries server addresses instead of the gateway's. So the flag is checked
 * first, and a token is generated only when none is usable: a new token invalidates the previous one.
 */
export async function acceptPeering(
  event: EventOf<'peering.requested'>,
  context: WorkflowContext,
): Promise<{ generated: boolean }> {
  const { acceptor, dialer } = event.data;
  // Both must be registered (an unknown dialer is bad input): refused before anything is written.
  const [acceptorCluster, dialerCluster] = await Promise.all([
    context.clusters.connect(acceptor),
    context.clusters.connect(dialer),
  ]);
  const consul = acceptorCluster.api;
  const wanted = await ensurePeeringRecord(context.secrets, context.settings.secretPrefix, {
    acceptor: acceptor.name,
    dialer: dialer.name,
    exportServices: event.data.exportServices,
  });

  await untilReady(async () => {
    await requireMeshThroughGateways(consul, acceptor.name);
    await requirePassingGateway(consul, acceptor.name, acceptorCluster.gatewayService);
  }, context);

  const secretName = peeringTokenSecretName(context.settings.secretPrefix, acceptor.name, dialer.name);
  const forced = event.data.regenerateToken === true;
  // Decided from reads first: a converged replay takes no lock and writes nothing. A token is
  // generated only under the pair's lock, after deciding again there, so concurrent requests for one
  // pair (duplicates, regenerations, the mirror direction) generate one after another, never while a
  // dial is using the previous token.
  const first = await decide(await consul.readPeering(dialer.name), forced, secretName, event, context);
  let decision: TokenChoice = first.kind === 'reuse' ? first : undefined;
  if (decision === undefined) {
    const lock = pairLockOf(acceptor.name, dialer.name);
    const lockHost = lock.host === acceptor.name ? consul : dialerCluster.api;
    decision = await withPairLock(
      lockHost,
      { a: acceptor.name, b: dialer.name },
      `accept ${acceptor.name}→${dialer.name}`,
      context,
      async (): Promise<NonNullable<TokenChoice>> => {
        const peering = await consul.readPeering(dialer.name);
        const again = await decide(peering, forced, secretName, event, context);
        if (again.kind === 'reuse') return again;
        await refuseMirrorDirection(dialerCluster.api, acceptor.name, dialer.name);
        const generated = await generateAndStore(consul, event, peering, secretName, context);
        return { kind: 'generated', ...generated, why: again.why };
      },
    );
  }
  const { versionId: tokenVersion, peeringId } = decision;

  // Exports need the acceptor's peering record, which exists from the token on.
  await ensureExportedServices(consul, dialer.name, wanted.exportServices);

  await context.events.publish(
    createEvent(
      'peering.acceptor-ready',
      {
        acceptor,
        dialer,
        tokenSecret: secretName,
        tokenVersion,
        peeringId,
        attempt: 0,
        regenerations: event.data.regenerations ?? 0,
      },
      { correlationId: event.correlationId },
    ),
  );
  context.log.info('acceptor ready', {
    acceptor: acceptor.name,
    dialer: dialer.name,
    tokenGenerated: decision.kind === 'generated',
    why: decision.why,
  });
  return { generated: decision.kind === 'generated' };
}

/** The token the dialer gets: one already stored, or one generated now. */
type TokenChoice =
  { kind: 'reuse' | 'generated'; versionId: string; peeringId: string; why: string } | undefined;

type Decision =
  { kind: 'reuse'; versionId: string; peeringId: string; why: string } | { kind: 'generate'; why: string };

async function decide(
  peering: Peering | undefined,
  forced: boolean,
  secretName: string,
  event: EventOf<'peering.requested'>,
  context: WorkflowContext,
): Promise<Decision> {
  if (peering?.state === 'DELETING') {
    throw new NotReadyError(`peering "${peering.name}" is being deleted; retrying once it is gone`);
  }
  if (peering !== undefined && isDialingRecord(peering) && peering.state !== 'TERMINATED') {
    const { acceptor, dialer } = event.data;
    throw new PermanentError(
      `"${acceptor.name}" already dials "${dialer.name}" (the direction ${dialer.name}→${acceptor.name} exists, ${peering.state}); a pair is peered in one direction only and a name is either accepted or dialed, not both. Use that peering, or delete it first (peerctl unpeer ${acceptor.name} ${dialer.name})`,
      'name-conflict',
    );
  }
  if (peering === undefined) return { kind: 'generate', why: 'no peering yet' };
  if (peering.state === 'TERMINATED') return { kind: 'generate', why: 'the dialer deleted its side' };

  const stored = await context.secrets.get(secretName);
  const token =
    stored === undefined
      ? undefined
      : z.safeParse(PeeringTokenSecretSchema, parseJsonOrUndefined(stored.value));
  if (stored === undefined || token?.success !== true) return { kind: 'generate', why: 'no stored token' };
  if (token.data.peeringId !== peering.id)
    return { kind: 'generate', why: 'stored token is for an older peering' };
  const reuse = { kind: 'reuse' as const, versionId: stored.versionId, peeringId: peering.id };
  if (forced) {
    // A redelivered regeneration request (SQS delivers at least once) must not regenerate twice, and
    // a token generated after the request was made already is the new token it asked for (concurrent
    // regenerations coalesce, and a late redelivery does not invalidate a newer token).
    if (token.data.requestId === event.id)
      return { ...reuse, why: 'this request already regenerated the token' };
    if (token.data.generatedAt !== undefined && Date.parse(token.data.generatedAt) > Date.parse(event.time))
      return { ...reuse, why: 'the token was regenerated after this request was made' };
    return { kind: 'generate', why: 'regeneration requested' };
  }
  return { ...reuse, why: `peering is ${peering.state}` };
}

/**
 * A pair is peered in one direction only. When the other direction already exists (its acceptor
 * record on what is our dialer), this request is refused naming it; the pair lock guarantees that of
 * two mirror requests racing, the second one sees the first's record here.
 */
async function refuseMirrorDirection(dialerApi: ConsulApi, acceptor: string, dialer: string): Promise<void> {
  const mirror = await dialerApi.readPeering(acceptor);
  if (mirror === undefined || isDialingRecord(mirror)) return;
  if (mirror.state === 'TERMINATED' || mirror.state === 'DELETING') return;
  throw new PermanentError(
    `"${dialer}" already accepts a peering from "${acceptor}" (the direction ${dialer}→${acceptor} exists, ${mirror.state}); a pair is peered in one direction only. Use that peering, or delete it first (peerctl unpeer ${acceptor} ${dialer})`,
    'name-conflict',
  );
}

async function generateAndStore(
  consul: ConsulApi,
  event: EventOf<'peering.requested'>,
  existing: Peering | undefined,
  secretName: string,
  context: WorkflowContext,
): Promise<{ versionId: string; peeringId: string }> {
  const { acceptor, dialer } = event.data;
  if (existing?.state === 'TERMINATED') {
    // Consul keeps a TERMINATED record until an operator deletes it; a new token needs a fresh record.
    await consul.deletePeering(dialer.name);
    throw new NotReadyError(
      `deleted the TERMINATED peering "${dialer.name}" on ${acceptor.name}; retrying once it is gone`,
    );
  }
  let peeringToken: string;
  try {
    peeringToken = await consul.generatePeeringToken({
      peerName: dialer.name,
      meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE },
    });
  } catch (error) {
    if (isConsulError(error, 'peering-conflict') && !error.retryable) {
      throw new PermanentError(
        `${acceptor.name} cannot accept a peering named "${dialer.name}": ${error.message}`,
        'name-conflict',
        {
          cause: error,
        },
      );
    }
    throw error;
  }
  const peeringId = peeringIdOfToken(peeringToken);
  const value: PeeringTokenSecret = {
    peeringToken,
    peeringId,
    acceptor: acceptor.name,
    dialer: dialer.name,
    generatedAt: context.clock.now().toISOString(),
    requestId: event.id,
  };
  const { versionId } = await context.secrets.put(secretName, JSON.stringify(value), {
    description: `Peering token from ${acceptor.name} (acceptor) for ${dialer.name} (dialer)`,
    tags: { [TAG_KIND]: 'peering-token', [TAG_ACCEPTOR]: acceptor.name, [TAG_DIALER]: dialer.name },
  });
  return { versionId, peeringId };
}

/** A peering token is base64 of JSON whose `PeerID` is the acceptor's peering ID (Consul `structs.PeeringToken`). */
export function peeringIdOfToken(peeringToken: string): string {
  const decoded = parseJsonOrUndefined(Buffer.from(peeringToken, 'base64').toString('utf8'));
  const peerId =
    typeof decoded === 'object' && decoded !== null ? (decoded as { PeerID?: unknown }).PeerID : undefined;
  if (typeof peerId !== 'string' || peerId === '') {
    throw new PermanentError(
      'Consul returned a peering token without a PeerID; is this Consul 1.14 or newer?',
      'unexpected-token',
    );
  }
  return peerId;
}

export async function requireMeshThroughGateways(consul: ConsulApi, cluster: string): Promise<void> {
  const mesh = await consul.readConfigEntryRaw('mesh', 'mesh');
  if (!peersThroughMeshGateways(mesh?.entry)) {
    throw new GatewayPreconditionError(
      `cluster "${cluster}" does not route peering through mesh gateways yet (mesh config entry Peering.PeerThroughMeshGateways is not true); it must be onboarded first (cluster.registered)`,
      'mesh-config-missing',
    );
  }
}
