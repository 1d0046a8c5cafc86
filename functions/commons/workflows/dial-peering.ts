import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '../json';
import { isConsulError } from '#commons/ports/consul-error';
import type { Peering } from '../ports/consul-types';
import { AutomationError, PermanentError, ValidationError } from '../errors';
import { createEvent, type EventOf } from '../events';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, peeringTokenSecretName } from '../naming';
import type { ConsulApi } from '../ports/consul-api';
import { PeeringTokenSecretSchema, requireMeshThroughGateways } from './accept-peering';
import type { WorkflowContext } from './context';
import { GatewayPreconditionError, requirePassingGateway } from './ensure-mesh-gateway';
import { pairLockOf, withPairLock } from './pair-lock';
import { isDialingRecord } from './peering-role';
import { untilReady } from './until-ready';
import { backoffSeconds } from '../retry-backoff';

/** Meta key on the dialer's peering: which token version established it. */
export const TOKEN_VERSION_KEY = 'token-version';

export type DialOutcome = 'established' | 'pending' | 'regenerating' | 'failed' | 'superseded';

/**
 * `peering.acceptor-ready` → on the dialer: check the preconditions, establish with the token at the
 * event's version (unless the dialer already has a live peering), then confirm ACTIVE on both sides.
 *
 * Ordering rule (Consul): the dialer's mesh entry must have PeerThroughMeshGateways BEFORE establishing,
 * and a gateway must be registered and passing, or Consul silently dials the peer directly.
 * Establish is synchronous in Consul (it fails in seconds or returns ESTABLISHING); ACTIVE follows
 * once the stream is up. The function polls for ACTIVE for a bounded time, then hands the wait back
 * to the queue as a delayed copy of this event (attempt + 1): it never sleeps for minutes.
 */
export async function dialPeering(
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
): Promise<{ outcome: DialOutcome }> {
  const { acceptor, dialer, tokenSecret } = event.data;
  const expectedSecret = peeringTokenSecretName(context.settings.secretPrefix, acceptor.name, dialer.name);
  if (tokenSecret !== expectedSecret) {
    throw new ValidationError(
      `tokenSecret must be "${expectedSecret}" (the secret naming scheme)`,
      'data.tokenSecret',
    );
  }
  const [dialerCluster, { api: acceptorApi }] = await Promise.all([
    context.clusters.connect(dialer),
    context.clusters.connect(acceptor),
  ]);
  const dialerApi = dialerCluster.api;

  try {
    await untilReady(async () => {
      await requireMeshThroughGateways(dialerApi, dialer.name);
      await requirePassingGateway(dialerApi, dialer.name, dialerCluster.gatewayService);
    }, context);
  } catch (error) {
    if (error instanceof GatewayPreconditionError)
      return recheckOrFail(event, context, `dialer-${error.kind}`, error.message);
    throw error;
  }

  const local = await dialerApi.readPeering(acceptor.name);
  const refused = await refuseUnusable(local, event, context);
  if (refused !== undefined) return refused;

  let dialerPeering: Peering | undefined = local;
  if (needsEstablish(local, event.data.tokenVersion)) {
    // Under the pair's lock, deciding again there: one establish per pair at a time, never while the
    // acceptor generates a token that would invalidate the one being used.
    const lock = pairLockOf(acceptor.name, dialer.name);
    const established = await withPairLock(
      lock.host === dialer.name ? dialerApi : acceptorApi,
      { a: acceptor.name, b: dialer.name },
      `dial ${acceptor.name}→${dialer.name}`,
      context,
      async (): Promise<'ok' | DialOutcome | { outcome: DialOutcome }> => {
        const current = await dialerApi.readPeering(acceptor.name);
        const refusedNow = await refuseUnusable(current, event, context);
        if (refusedNow !== undefined) return refusedNow;
        if (!needsEstablish(current, event.data.tokenVersion)) return 'ok';
        return establish(dialerApi, event, context);
      },
    );
    if (typeof established === 'object') return established;
    // Superseded: a newer token exists and its own event dials it; this request still waits for ACTIVE.
    if (established !== 'ok' && established !== 'superseded') return { outcome: established };
    dialerPeering = undefined; // read it fresh below
  }
  return confirmActive(event, context, acceptorApi, dialerApi, dialerPeering);
}

/** A dialer-side record this request cannot dial over: being deleted (wait), or accepted (refuse). */
async function refuseUnusable(
  local: Peering | undefined,
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
): Promise<{ outcome: DialOutcome } | undefined> {
  const { acceptor, dialer } = event.data;
  if (local?.state === 'DELETING') {
    return recheckOrFail(
      event,
      context,
      'peering-deleting',
      `the peering "${acceptor.name}" on ${dialer.name} is being deleted`,
    );
  }
  if (local !== undefined && !isDialingRecord(local) && local.state !== 'TERMINATED') {
    return {
      outcome: await fail(
        event,
        context,
        'name-conflict',
        `"${dialer.name}" already accepts a peering from "${acceptor.name}" (the direction ${dialer.name}→${acceptor.name} exists, ${local.state}); a pair is peered in one direction only and a name is either accepted or dialed, not both. Use that peering, or delete it first (peerctl unpeer ${acceptor.name} ${dialer.name})`,
      ),
    };
  }
  return undefined;
}

/**
 * A live or starting peering is left alone unless it was established with another token version: the
 * acceptor regenerated (peerctl regenerate, or a rejected token). Consul then re-establishes in place
 * (same peering, stream kept), and a stale event finds its version superseded and does nothing.
 */
function needsEstablish(local: Peering | undefined, tokenVersion: string): boolean {
  if (local === undefined) return true;
  if (['PENDING', 'TERMINATED', 'FAILING', 'UNDEFINED', 'UNKNOWN'].includes(local.state)) return true;
  return local.meta[TOKEN_VERSION_KEY] !== tokenVersion;
}

async function establish(
  dialerApi: ConsulApi,
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
): Promise<'ok' | DialOutcome> {
  const { acceptor, dialer, tokenSecret, tokenVersion } = event.data;
  const current = await context.secrets.get(tokenSecret);
  if (current === undefined) {
    return fail(
      event,
      context,
      'token-missing',
      `the peering token secret "${tokenSecret}" is gone; request the peering again`,
    );
  }
  if (current.versionId !== tokenVersion) {
    // A newer token exists (a regeneration); the acceptor-ready event that carries it does the dialing.
    context.log.info('superseded token version; nothing to do', {
      acceptor: acceptor.name,
      dialer: dialer.name,
    });
    return 'superseded';
  }
  const parsed = z.safeParse(PeeringTokenSecretSchema, parseJsonOrUndefined(current.value));
  if (!parsed.success) {
    return fail(
      event,
      context,
      'token-invalid',
      `the peering token secret "${tokenSecret}" is not in the expected format`,
    );
  }
  try {
    await dialerApi.establishPeering({
      peerName: acceptor.name,
      peeringToken: parsed.data.peeringToken,
      meta: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE, [TOKEN_VERSION_KEY]: tokenVersion },
    });
    context.log.info('peering established on the dialer', { acceptor: acceptor.name, dialer: dialer.name });
    return 'ok';
  } catch (error) {
    if (isConsulError(error, 'peering-conflict') && !error.retryable) {
      if (
        error.conflict === 'token-already-used' ||
        error.conflict === 'token-superseded' ||
        error.conflict === 'token-rejected'
      ) {
        return requestRegeneration(event, context, error.message);
      }
      return fail(event, context, 'name-conflict', error.message);
    }
    if (error instanceof AutomationError && error.retryable) {
      return (await recheckOrFail(event, context, 'establish-failed', error.message)).outcome;
    }
    throw error;
  }
}

async function confirmActive(
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
  acceptorApi: ConsulApi,
  dialerApi: ConsulApi,
  known: Peering | undefined,
): Promise<{ outcome: DialOutcome }> {
  const { acceptor, dialer, peeringId } = event.data;
  const deadline = context.clock.now().getTime() + context.settings.activationPollMs;
  let dialerPeering = known;
  for (;;) {
    const [dialerSide, acceptorPeering] = await Promise.all([
      dialerPeering ?? dialerApi.readPeering(acceptor.name),
      acceptorApi.readPeering(dialer.name),
    ]);
    dialerPeering = dialerSide;
    if (dialerPeering?.state === 'ACTIVE' && acceptorPeering?.state === 'ACTIVE') {
      await context.events.publish(
        createEvent(
          'peering.established',
          {
            acceptor,
            dialer,
            peeringId,
            acceptorState: acceptorPeering.state,
            dialerState: dialerPeering.state,
          },
          { correlationId: event.correlationId },
        ),
      );
      context.log.info('peering active on both sides', { acceptor: acceptor.name, dialer: dialer.name });
      return { outcome: 'established' };
    }
    const states = `acceptor ${acceptorPeering?.state ?? 'absent'}, dialer ${dialerPeering?.state ?? 'absent'}`;
    if (context.clock.now().getTime() + context.settings.pollIntervalMs > deadline) {
      return recheckOrFail(
        event,
        context,
        'activation-timeout',
        `the peering did not become ACTIVE on both sides (${states})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, context.settings.pollIntervalMs));
    dialerPeering = undefined;
  }
}

async function requestRegeneration(
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
  why: string,
): Promise<DialOutcome> {
  const { acceptor, dialer, regenerations } = event.data;
  if (regenerations >= context.settings.maxRegenerations) {
    return fail(
      event,
      context,
      'token-rejected',
      `the acceptor rejected ${regenerations + 1} peering tokens; last: ${why}`,
    );
  }
  await context.events.publish(
    createEvent(
      'peering.requested',
      { acceptor, dialer, regenerateToken: true, regenerations: regenerations + 1 },
      { correlationId: event.correlationId },
    ),
  );
  context.log.warn('peering token rejected; asked the acceptor for a new one', {
    acceptor: acceptor.name,
    dialer: dialer.name,
    why,
  });
  return 'regenerating';
}

async function recheckOrFail(
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
  reason: string,
  message: string,
): Promise<{ outcome: DialOutcome }> {
  const attempt = event.data.attempt + 1;
  if (attempt >= context.settings.maxAttempts) {
    return { outcome: await fail(event, context, reason, `${message} (gave up after ${attempt} attempts)`) };
  }
  const delaySeconds = backoffSeconds(attempt, context.settings);
  await context.events.publish(
    createEvent('peering.acceptor-ready', { ...event.data, attempt }, { correlationId: event.correlationId }),
    { delaySeconds },
  );
  context.log.info('will check again', { reason, detail: message, attempt, delaySeconds });
  context.hooks?.onWaiting?.({ reason, detail: message, delaySeconds });
  return { outcome: 'pending' };
}

/** Publishes `peering.failed` for people, then raises so the record lands in the DLQ with its reason. */
async function fail(
  event: EventOf<'peering.acceptor-ready'>,
  context: WorkflowContext,
  reason: string,
  message: string,
): Promise<never> {
  const { acceptor, dialer } = event.data;
  await context.events.publish(
    // The event's message is bounded (2000 chars); Consul's error texts can be long.
    createEvent(
      'peering.failed',
      { acceptor, dialer, reason, message: message.slice(0, 2000) },
      { correlationId: event.correlationId },
    ),
  );
  throw new PermanentError(message, reason);
}
