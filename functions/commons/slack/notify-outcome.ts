import { isRetryable } from '../errors';
import type { PeeringEstablishedEvent, PeeringFailedEvent } from '../events';
import type { SecretStore } from '../ports/secret-store';
import type { WorkflowLog } from '../workflows/context';
import { outcomeMessage } from './messages';
import { slackResponseSecretName } from './naming';
import type { ResponsePoster } from './response-poster';
import { originOf, parseResponseRecord } from './response-url';

export type OutcomeEvent = PeeringEstablishedEvent | PeeringFailedEvent;

export interface NotifyOutcomeContext {
  secrets: SecretStore;
  secretPrefix: string;
  slack: ResponsePoster;
  log: WorkflowLog;
}

export type NotifyResult =
  /** Not asked from Slack (or already answered): nothing to post. */
  | 'no-slack-request'
  | 'posted'
  /** Slack refused the post for good (the response_url expired after 30 minutes, …). */
  | 'rejected'
  /** The stored record was unusable (not a record, or a URL outside the allowed base). */
  | 'unusable-record';

/**
 * Tells Slack how a peering request ended, when it came from Slack. The outcome itself is always logged.
 * A post that Slack may still take later (5xx, network) throws a retryable error and keeps the stored
 * response_url for the retry; every other end forgets it, since it is of no further use.
 */
export async function notifyOutcome(
  event: OutcomeEvent,
  context: NotifyOutcomeContext,
): Promise<NotifyResult> {
  const { secrets, secretPrefix, slack, log } = context;
  logOutcome(event, log);

  const secretName = slackResponseSecretName(secretPrefix, event.correlationId);
  const stored = await secrets.get(secretName);
  if (stored === undefined) return 'no-slack-request';

  const forget = async (): Promise<void> => {
    try {
      await secrets.delete(secretName, { forceWithoutRecovery: true });
    } catch (error) {
      // Not retried: a retry would post the result twice. The url expires by itself within 30 minutes.
      log.warn('could not delete the stored Slack response_url', {
        secretName,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };

  const record = parseResponseRecord(stored.value);
  if (record === undefined) {
    log.warn('the stored Slack response record is unusable; dropped', { secretName });
    await forget();
    return 'unusable-record';
  }

  let result;
  try {
    result = await slack.post(record.responseUrl, outcomeMessage(event, record.userId));
  } catch (error) {
    if (isRetryable(error)) throw error;
    log.warn('the stored Slack response_url cannot be posted to; dropped', {
      secretName,
      origin: originOf(record.responseUrl),
      error: error instanceof Error ? error.message : String(error),
    });
    await forget();
    return 'unusable-record';
  }

  if (result.delivered) {
    log.info('posted the outcome to Slack', { channelId: record.channelId, status: result.status });
  } else {
    log.warn('Slack refused the outcome post (expired response_url?); dropped', {
      channelId: record.channelId,
      status: result.status,
      detail: result.detail,
    });
  }
  await forget();
  return result.delivered ? 'posted' : 'rejected';
}

function logOutcome(event: OutcomeEvent, log: WorkflowLog): void {
  const pair = { acceptor: event.data.acceptor.name, dialer: event.data.dialer.name };
  if (event.type === 'peering.established') {
    log.info('peering established', {
      ...pair,
      peeringId: event.data.peeringId,
      acceptorState: event.data.acceptorState,
      dialerState: event.data.dialerState,
    });
  } else {
    log.warn('peering failed', { ...pair, reason: event.data.reason, message: event.data.message });
  }
}
