/**
 * Publishing requests and waiting for what they lead to, on either backend:
 * - local: the in-process pipeline's outcome events and dead letters, by correlation id;
 * - aws: Consul itself, read through the connection secrets (the outcome queue belongs to the
 *   deployed pipeline): ACTIVE on both sides, the new token in use after a regeneration, the exports.
 */
import { randomUUID } from 'node:crypto';
import { createEvent, type ClusterRef, type EventOf, type MeshGateway } from '#commons/events/index';
import { clusterSecretName, peeringTokenSecretName } from '#commons/naming';
import { TOKEN_VERSION_KEY } from '#commons/workflows/dial-peering';
import { describeOnboarding, isOnboarded, readOnboardingState } from './cluster-state';
import { EXIT, type ExitCode } from './exit-codes';
import type { Output } from './io';
import type { Runtime, Settled } from './runtime';
import { waitForAll, type Watched, type WaitResult } from './wait';

/** How a watched request ended well (established, onboarded) or not. */
export type Outcome = Settled | { status: 'onboarded'; detail: string };

export const newCorrelationId = (): string => `peerctl-${randomUUID()}`;

export const clusterRef = (runtime: Runtime, name: string): ClusterRef => ({
  name,
  connectionSecret: clusterSecretName(runtime.settings.secretPrefix, name),
});

export interface PeeringRequest {
  event: EventOf<'peering.requested'>;
  /** The token secret's version before a regeneration was asked for (the new one must differ). */
  previousTokenVersion?: string | undefined;
}

export function peeringRequest(
  runtime: Runtime,
  pair: { acceptor: string; dialer: string },
  options: { exportServices?: string[] | undefined; regenerateToken?: boolean },
): EventOf<'peering.requested'> {
  return createEvent(
    'peering.requested',
    {
      acceptor: clusterRef(runtime, pair.acceptor),
      dialer: clusterRef(runtime, pair.dialer),
      ...(options.exportServices === undefined ? {} : { exportServices: options.exportServices }),
      ...(options.regenerateToken === true ? { regenerateToken: true } : {}),
    },
    { correlationId: newCorrelationId() },
  );
}

const label = (event: EventOf<'peering.requested'>): string =>
  `${event.data.acceptor.name} -> ${event.data.dialer.name}`;

export function watchPeering(runtime: Runtime, request: PeeringRequest, out: Output): Watched<Outcome> {
  const { event } = request;
  const acceptor = event.data.acceptor.name;
  const dialer = event.data.dialer.name;
  if (runtime.kind === 'local') {
    // The pipeline prints each event as it flows; only the end is looked for here.
    return {
      label: label(event),
      probe: () =>
        Promise.resolve(done(runtime.settled({ correlationId: event.correlationId, acceptor, dialer }))),
    };
  }
  const tokenSecret = peeringTokenSecretName(runtime.settings.secretPrefix, acceptor, dialer);
  const regenerate = event.data.regenerateToken === true;
  const exports = event.data.exportServices ?? [];
  return {
    label: label(event),
    probe: async () => {
      const [acceptorApi, dialerApi] = [await runtime.consul(acceptor), await runtime.consul(dialer)];
      const [onAcceptor, onDialer] = await Promise.all([
        acceptorApi.readPeering(dialer),
        dialerApi.readPeering(acceptor),
      ]);
      const states = [`acceptor ${onAcceptor?.state ?? 'absent'}`, `dialer ${onDialer?.state ?? 'absent'}`];
      let tokenInUse = true;
      if (regenerate) {
        const current = await runtime.secrets.get(tokenSecret);
        out.redact(current?.value);
        tokenInUse =
          current !== undefined &&
          current.versionId !== request.previousTokenVersion &&
          onDialer?.meta[TOKEN_VERSION_KEY] === current.versionId;
        states.push(`new token ${tokenInUse ? 'in use' : 'not in use yet'}`);
      }
      let exported = true;
      if (exports.length > 0) {
        const entry = await acceptorApi.readConfigEntryRaw('exported-services', 'default');
        exported = exports.every((service) => exportsTo(entry?.entry, service, dialer));
        states.push(`exports ${exported ? 'in place' : 'not in place yet'}`);
      }
      const active = onAcceptor?.state === 'ACTIVE' && onDialer?.state === 'ACTIVE';
      if (active && tokenInUse && exported) {
        return {
          done: {
            status: 'established',
            detail: `${acceptor} ACTIVE / ${dialer} ACTIVE, peering id ${onAcceptor.id}`,
          },
        };
      }
      return { state: states.join(', ') };
    },
  };
}

const done = (settled: Settled | undefined): { done?: Settled } =>
  settled === undefined ? {} : { done: settled };

function exportsTo(entry: Record<string, unknown> | undefined, service: string, peer: string): boolean {
  const services = Array.isArray(entry?.Services) ? (entry.Services as Record<string, unknown>[]) : [];
  const found = services.find((s) => s.Name === service);
  const consumers = Array.isArray(found?.Consumers) ? (found.Consumers as Record<string, unknown>[]) : [];
  return consumers.some((c) => c.Peer === peer || c.PeerName === peer);
}

export interface WaitContext {
  runtime: Runtime;
  out: Output;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Summary lines on stderr, when stdout is kept for one JSON document. */
  summaryOnStderr?: boolean;
}

/** Publishes the requests; then (when `wait`) waits for each and prints one summary line per request. */
export async function publishPeeringRequests(
  requests: readonly PeeringRequest[],
  wait: boolean,
  context: WaitContext,
): Promise<ExitCode> {
  const { runtime, out } = context;
  for (const request of requests) await runtime.publish(request.event);
  if (!wait) {
    for (const { event } of requests) {
      out.result(`${label(event)}  published  correlation id ${event.correlationId}`);
    }
    out.result(
      `follow with: peerctl status ${requests[0]?.event.data.acceptor.name ?? ''} --aws (or add --wait)`,
    );
    return EXIT.ok;
  }
  return waitAndSummarise(
    requests.map((request) => watchPeering(runtime, request, out)),
    context,
  );
}

/** Waits for every item, then prints one line each (`dc1 -> dc2  established  ...`). */
export async function waitAndSummarise(
  items: readonly Watched<Outcome>[],
  context: WaitContext,
): Promise<ExitCode> {
  context.out.progress(
    `waiting for ${items.map((i) => i.label).join(', ')} (timeout ${context.timeoutMs / 1000} s)`,
  );
  const results = await waitForAll(items, {
    timeoutMs: context.timeoutMs,
    out: context.out,
    signal: context.signal,
  });
  return summarise(
    items.map((i) => i.label),
    results,
    context,
  );
}

/** One line per item (`dc1 -> dc2  established  ...`); the exit code of the whole. */
function summarise(
  labels: readonly string[],
  results: readonly WaitResult<Outcome>[],
  context: WaitContext,
): ExitCode {
  const width = Math.max(...labels.map((l) => l.length));
  const print = (line: string): void => {
    if (context.summaryOnStderr === true) context.out.error(line);
    else context.out.result(line);
  };
  let code: ExitCode = EXIT.ok;
  for (const [i, result] of results.entries()) {
    const name = (labels[i] ?? '').padEnd(width);
    if (result.status === 'done' && result.value.status !== 'failed') {
      print(`${name}  ${result.value.status}  ${result.value.detail}`);
      continue;
    }
    if (result.status === 'done' && result.value.status === 'failed') {
      print(`${name}  failed  ${result.value.reason}: ${result.value.message}`);
    } else if (result.status === 'timed out') {
      const last = result.lastState === undefined ? '' : ` (last: ${result.lastState})`;
      print(`${name}  timed out  no outcome within ${context.timeoutMs / 1000} s${last}`);
    } else {
      print(`${name}  interrupted`);
      code = EXIT.interrupted;
      continue;
    }
    if (code === EXIT.ok) code = EXIT.failed;
  }
  return code;
}

export interface Registration {
  event: EventOf<'cluster.registered'>;
  /** The gateway addresses asked for: onboarding is done once an instance is registered there. */
  gateway?: MeshGateway | undefined;
}

/** Onboarding's end, read from Consul; locally, a dead-lettered registration ends it at once. */
export function watchOnboarding(runtime: Runtime, registration: Registration): Watched<Outcome> {
  const { event, gateway } = registration;
  const cluster = event.data.cluster.name;
  return {
    label: cluster,
    probe: async () => {
      const failed = runtime.settled({ correlationId: event.correlationId, cluster });
      if (failed !== undefined) return { done: failed };
      const state = await readOnboardingState(await runtime.consul(cluster), runtime.secrets, {
        secretPrefix: runtime.settings.secretPrefix,
        cluster,
        ...(gateway === undefined ? {} : { requested: gateway }),
      });
      const description = describeOnboarding(state);
      return isOnboarded(state)
        ? { done: { status: 'onboarded', detail: description } }
        : { state: description };
    },
  };
}
