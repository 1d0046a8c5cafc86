import { AutomationError } from '#commons/errors';

import { ConsulError, type ConsulRequestLabel } from '#commons/ports/consul-error';
import { sleep } from './retry';
import type { CaRoots, Readiness, WaitUntilReadyOptions } from '../ports/consul-types';

/** The two reads readiness is judged on; each call must honour the signal and not retry by itself. */
export interface ReadinessProbe {
  address: string;
  leader(signal: AbortSignal): Promise<string>;
  caRoots(signal: AbortSignal): Promise<CaRoots>;
}

const LEADER: ConsulRequestLabel = { method: 'GET', path: '/v1/status/leader' };
const CA_ROOTS: ConsulRequestLabel = { method: 'GET', path: '/v1/connect/ca/roots' };

export const DEFAULT_READY_TIMEOUT_MS = 60_000;
export const DEFAULT_READY_POLL_MS = 500;

/**
 * Polls until the cluster has a Raft leader and an initialised Connect CA, the two things peering
 * token generation needs right after boot (else: `CA has not finished initializing`). Transient
 * failures (agent still starting, connection refused) count as "not ready yet"; permanent ones
 * (TLS, ACL, Connect disabled) are thrown at once. Times out with a not-ready ConsulError saying what
 * was still missing.
 */
export async function waitUntilReady(
  probe: ReadinessProbe,
  options: WaitUntilReadyOptions = {},
): Promise<Readiness> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const pollMs = options.pollIntervalMs ?? DEFAULT_READY_POLL_MS;
  const caller = options.signal;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = caller ? AbortSignal.any([caller, deadline]) : deadline;

  let missing = 'no answer yet';
  let last = LEADER;
  while (!signal.aborted) {
    try {
      last = LEADER;
      const leader = await probe.leader(signal);
      if (leader === '') {
        missing = 'no Raft leader is elected yet';
      } else {
        last = CA_ROOTS;
        const roots = await probe.caRoots(signal);
        if (roots.activeRootId !== '' && roots.trustDomain !== '' && roots.roots.some((r) => r.active)) {
          return { leader, trustDomain: roots.trustDomain };
        }
        missing = 'the Connect CA has no active root yet';
      }
    } catch (error) {
      if (caller?.aborted) throw caller.reason;
      if (deadline.aborted) break;
      if (!(error instanceof AutomationError) || !error.retryable) throw error;
      missing = error.message;
    }
    try {
      await sleep(pollMs, signal);
    } catch {
      break;
    }
  }
  if (caller?.aborted) throw caller.reason;
  throw new ConsulError(
    'not-ready',
    last,
    undefined,
    `Consul at ${probe.address} was not ready within ${timeoutMs} ms: ${missing}. Check that the servers ` +
      'have formed a quorum (bootstrap_expect) and that connect { enabled = true } is set.',
  );
}
