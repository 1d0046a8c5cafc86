import { NotReadyError } from '../errors';
import type { WorkflowContext } from './context';

/**
 * Runs a precondition check until it passes, re-checking every `pollIntervalMs` for up to
 * `readinessWaitMs` while it fails with NotReadyError (a gateway whose first health check has not
 * run yet, a mesh flag onboarding is about to write). So a step proceeds the moment Consul is ready,
 * whatever order the events came in, instead of a queue retry later. Past the wait, the error goes to
 * the handler, which hands the record back to the queue with a backoff.
 */
export async function untilReady<T>(
  check: () => Promise<T>,
  { clock, settings }: Pick<WorkflowContext, 'clock' | 'settings'>,
): Promise<T> {
  const deadline = clock.now().getTime() + settings.readinessWaitMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (!(error instanceof NotReadyError)) throw error;
      if (clock.now().getTime() + settings.pollIntervalMs > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, settings.pollIntervalMs));
  }
}
