import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SecretBackedClusterDirectory } from '#commons/clusters';
import { createEvent, type PipelineEvent } from '#commons/events/index';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { clusterSecretName } from '#commons/naming';
import { systemClock } from '#commons/ports/clock';
import { DEFAULT_SETTINGS, type PipelineSettings, type WorkflowContext } from '#commons/workflows/context';
import { onboardCluster } from '#commons/workflows/onboard-cluster';
import { LocalPipeline } from '../../local/pipeline';
import { recordingCalls, type ConsulCall } from '#devkit/consul-call-recorder';
import { onboardingAwareLogger, tally } from './consul-calls';
import { assertOnboarded, bothActive, observeActive, registration, SECRET_PREFIX, withPair } from './pair';
import { retryWhileNotReady } from './support';

export const SETTINGS: PipelineSettings = {
  ...DEFAULT_SETTINGS,
  gatewayCheckInterval: '1s',
  secretPrefix: SECRET_PREFIX,
};
/** How often the floor (and the pipeline run's observer) reads both sides' peering state. */
export const POLL_MS = 50;
const ONBOARD_TIMEOUT_MS = 60_000;
const PEERING_TIMEOUT_MS = 60_000;

export interface PipelineRunResult {
  p1Ms: number;
  /** p1 minus the time spent in Consul: token call, establish call, and establish → both ACTIVE (observed). */
  overheadMs: number;
  /** Cluster age (since both datacenters were ready) when the timer started. */
  ageAtTimerMs: number;
  /** Sums to p1. */
  breakdown: {
    to_token_call: number;
    token_call: number;
    token_to_establish_call: number;
    establish_call: number;
    active_after_establish: number;
    detection_lag: number;
    outcome_delivery: number;
  };
  /** acceptor-ready events re-published by the dial (0 unless ACTIVE took longer than activationPollMs). */
  dialRechecks: number;
  p2: ReturnType<typeof tally>;
}

/** Run A: onboarding through the pipeline, then p1 (timed) and p2 (counted) on a fresh pair. */
export function pipelineRun(binary: string): Promise<PipelineRunResult> {
  return withPair(binary, async (pair) => {
    const names = [pair.acceptor.ref.name, pair.dialer.ref.name];
    const byAddress = new Map([pair.acceptor, pair.dialer].map((s) => [s.cluster.address, s.ref.name]));
    const calls: ConsulCall[] = [];
    const events: { at: number; event: PipelineEvent }[] = [];
    const onboarded = new Set<string>();
    let wake: () => void = () => undefined;
    const pipeline = LocalPipeline.inProcess({
      settings: SETTINGS,
      logger: onboardingAwareLogger('bench', (cluster) => {
        onboarded.add(cluster);
        wake();
      }),
      secretsFile: join(pair.tempDir, 'secrets.json'),
      onEvent: (event) => events.push({ at: performance.now(), event }),
      wrapConsul: (address, api) => recordingCalls(byAddress.get(address) ?? address, api, calls),
    });
    try {
      for (const side of [pair.acceptor, pair.dialer]) {
        await pipeline.secrets.put(
          clusterSecretName(SECRET_PREFIX, side.ref.name),
          JSON.stringify({ address: side.cluster.address, token: side.cluster.managementToken }),
        );
      }
      pipeline.start();

      // Onboarding, finished before the timer. Its first attempt usually finds the gateway's check not
      // passing yet, and is retried after the queue's visibility timeout (5 s).
      const onboarding = randomUUID();
      for (const side of [pair.acceptor, pair.dialer]) {
        await pipeline.publish(
          createEvent('cluster.registered', registration(side), { correlationId: onboarding }),
        );
      }
      const deadline = performance.now() + ONBOARD_TIMEOUT_MS;
      while (!names.every((n) => onboarded.has(n))) {
        if (performance.now() > deadline) {
          throw new Error(
            `onboarding not finished in ${ONBOARD_TIMEOUT_MS} ms (done: ${[...onboarded].join(', ') || 'none'})`,
          );
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
      await assertOnboarded(pair);
      await sleep(100); // the onboard handler acknowledges its record

      // p1: from publishing the request to receiving its outcome.
      const correlationId = randomUUID();
      const mark = calls.length;
      const stopObserver = new AbortController();
      const t0 = performance.now();
      const observed = observeActive(pair, POLL_MS, stopObserver.signal);
      await pipeline.publish(
        createEvent(
          'peering.requested',
          { acceptor: pair.acceptor.ref, dialer: pair.dialer.ref },
          { correlationId },
        ),
      );
      const outcome = await pipeline.waitForOutcome(correlationId, PEERING_TIMEOUT_MS).finally(() => {
        // After an established outcome both sides are ACTIVE, so the observer sees it on its next read.
        setTimeout(() => {
          stopObserver.abort();
        }, 10 * POLL_MS);
      });
      const t1 = performance.now();
      const observedAt = (await observed) ?? Number.POSITIVE_INFINITY;
      if (outcome.type !== 'peering.established') {
        throw new Error(`peering failed: ${outcome.data.reason}: ${outcome.data.message}`);
      }
      const check = await bothActive(pair);
      if (!check.active) throw new Error(`outcome says established, Consul says ${check.states}`);

      const ours = events.filter((e) => e.event.correlationId === correlationId);
      const established = ours.find((e) => e.event.type === 'peering.established')?.at ?? Number.NaN;
      // When Consul had both sides ACTIVE: first seen by the observer or by the dial's own poll.
      const activeAt = Math.min(observedAt, established);
      const call = (method: string): { startedAt: number; endedAt: number } => {
        const found = calls.slice(mark).find((c) => c.method === method);
        return { startedAt: found?.startedAt ?? Number.NaN, endedAt: found?.endedAt ?? Number.NaN };
      };
      const token = call('generatePeeringToken');
      const establish = call('establishPeering');
      const breakdown = {
        to_token_call: token.startedAt - t0,
        token_call: token.endedAt - token.startedAt,
        token_to_establish_call: establish.startedAt - token.endedAt,
        establish_call: establish.endedAt - establish.startedAt,
        active_after_establish: activeAt - establish.endedAt,
        detection_lag: established - activeAt,
        outcome_delivery: t1 - established,
      };

      // p2: a duplicate request on the converged pair; every Consul call the workflows make for it.
      await sleep(200); // the dial handler acknowledges its record
      const p2Mark = calls.length;
      const duplicateId = randomUUID();
      await pipeline.publish(
        createEvent(
          'peering.requested',
          { acceptor: pair.acceptor.ref, dialer: pair.dialer.ref },
          { correlationId: duplicateId },
        ),
      );
      const duplicate = await pipeline.waitForOutcome(duplicateId, PEERING_TIMEOUT_MS);
      if (duplicate.type !== 'peering.established')
        throw new Error(`duplicate request: ${duplicate.data.reason}`);
      await sleep(300); // a late call would be counted too

      return {
        p1Ms: t1 - t0,
        overheadMs:
          t1 - t0 - breakdown.token_call - breakdown.establish_call - breakdown.active_after_establish,
        ageAtTimerMs: t0 - pair.readyAt,
        breakdown,
        dialRechecks: ours.filter((e) => e.event.type === 'peering.acceptor-ready').length - 1,
        p2: tally(calls.slice(p2Mark), names),
      };
    } finally {
      await pipeline.stop();
    }
  });
}

export interface FloorRunResult {
  floorMs: number;
  ageAtTimerMs: number;
  breakdown: { token_call: number; establish_call: number; active_after_establish: number };
}

/**
 * Run B: the same onboarding (the workflow itself, called directly), then the floor: token on the
 * acceptor, establish on the dialer, both sides polled until ACTIVE. The timer starts at cluster age
 * `alignAgeMs` (the preceding pipeline run's), so both variants reach the peering with the same history.
 */
export function floorRun(binary: string, alignAgeMs: number): Promise<FloorRunResult> {
  return withPair(binary, async (pair) => {
    const acceptor = pair.acceptor.admin;
    const dialer = pair.dialer.admin;
    // The real cluster directory over a file secret store, handing out the admin clients (already connected).
    const secrets = new FileSecretStore({ path: join(pair.tempDir, 'secrets.json') });
    for (const side of [pair.acceptor, pair.dialer]) {
      await secrets.put(
        clusterSecretName(SECRET_PREFIX, side.ref.name),
        JSON.stringify({ address: side.cluster.address, token: side.cluster.managementToken }),
      );
    }
    const context: WorkflowContext = {
      clusters: new SecretBackedClusterDirectory(
        secrets,
        (connection) => (connection.address === pair.acceptor.cluster.address ? acceptor : dialer),
        SECRET_PREFIX,
      ),
      secrets,
      events: { publish: () => Promise.resolve() },
      clock: systemClock,
      log: { info: () => undefined, warn: () => undefined },
      settings: SETTINGS,
    };
    const correlationId = randomUUID();
    await Promise.all(
      [pair.acceptor, pair.dialer].map((side) =>
        retryWhileNotReady(`onboarding ${side.ref.name}`, ONBOARD_TIMEOUT_MS, () =>
          onboardCluster(createEvent('cluster.registered', registration(side), { correlationId }), context),
        ),
      ),
    );
    await assertOnboarded(pair);
    const wait = pair.readyAt + alignAgeMs - performance.now();
    if (wait > 0) await sleep(wait);

    const t0 = performance.now();
    const peeringToken = await acceptor.generatePeeringToken({ peerName: pair.dialer.ref.name });
    const tToken = performance.now();
    await dialer.establishPeering({ peerName: pair.acceptor.ref.name, peeringToken });
    const tEstablished = performance.now();
    for (;;) {
      const { active, states } = await bothActive(pair);
      if (active) break;
      if (performance.now() - t0 > PEERING_TIMEOUT_MS)
        throw new Error(`floor: not ACTIVE in ${PEERING_TIMEOUT_MS} ms (${states})`);
      await sleep(POLL_MS);
    }
    const t1 = performance.now();
    return {
      floorMs: t1 - t0,
      ageAtTimerMs: t0 - pair.readyAt,
      breakdown: {
        token_call: tToken - t0,
        establish_call: tEstablished - tToken,
        active_after_establish: t1 - tEstablished,
      },
    };
  });
}
