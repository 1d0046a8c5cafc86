import { createEvent } from '#commons/events/index';
import { clusterSecretName, TAG_KIND } from '#commons/naming';
import type { EventPublisher } from '#commons/ports/event-publisher';
import type { SecretStore } from '#commons/ports/secret-store';
import type { SlashCommandRequest } from '#commons/slack/command-parser';
import {
  ephemeral,
  peeringRequestedText,
  statusText,
  unknownClustersText,
  type SlackMessage,
} from '#commons/slack/messages';
import { listRegisteredClusters, listWantedPeerings } from '#commons/registry';
import { SLACK_RESPONSE_KIND, slackResponseSecretName } from '#commons/slack/naming';
import { serialiseResponseRecord } from '#commons/slack/response-url';
import type { WorkflowLog } from '#commons/workflows/context';

export interface CommandContext {
  secrets: SecretStore;
  events: EventPublisher;
  secretPrefix: string;
  log: WorkflowLog;
}

/**
 * `peer <acceptor> <dialer>`: both clusters must be registered; the response_url is kept as a secret
 * under the request's correlation id (it never travels on the queue), then `peering.requested` is
 * published. Everything here is a few AWS calls: Slack wants the answer within 3 seconds.
 */
export async function requestPeering(
  pair: { acceptor: string; dialer: string },
  request: SlashCommandRequest,
  correlationId: string,
  context: CommandContext,
): Promise<SlackMessage> {
  const { secrets, events, secretPrefix, log } = context;
  // Listed, not read: this public-facing function never needs the clusters' management tokens.
  const registered = new Set(await listRegisteredClusters(secrets, secretPrefix));
  const unknown = [pair.acceptor, pair.dialer].filter((name) => !registered.has(name));
  if (unknown.length > 0) {
    log.info('peering refused: unknown cluster', { ...pair, unknown });
    return ephemeral(unknownClustersText(request.command, unknown));
  }

  const responseSecret = slackResponseSecretName(secretPrefix, correlationId);
  await secrets.put(
    responseSecret,
    serialiseResponseRecord({
      responseUrl: request.responseUrl,
      userId: request.userId,
      channelId: request.channelId,
    }),
    {
      description: `Slack response_url of peering request ${correlationId}; deleted once the outcome is posted`,
      tags: { [TAG_KIND]: SLACK_RESPONSE_KIND },
    },
  );
  const event = createEvent(
    'peering.requested',
    {
      acceptor: { name: pair.acceptor, connectionSecret: clusterSecretName(secretPrefix, pair.acceptor) },
      dialer: { name: pair.dialer, connectionSecret: clusterSecretName(secretPrefix, pair.dialer) },
    },
    { correlationId },
  );
  try {
    await events.publish(event);
  } catch (error) {
    // Nothing will ever answer this request: do not leave its response_url behind.
    await secrets.delete(responseSecret, { forceWithoutRecovery: true }).catch(() => undefined);
    throw error;
  }
  log.info('peering requested from Slack', { ...pair, eventId: event.id });
  return ephemeral(peeringRequestedText(pair.acceptor, pair.dialer, correlationId));
}

/** `status`: what the secret store knows. No Consul calls: they could not be bounded within Slack's 3 s. */
export async function describeStatus(context: CommandContext): Promise<SlackMessage> {
  const { secrets, secretPrefix } = context;
  const [clusters, peerings] = await Promise.all([
    listRegisteredClusters(secrets, secretPrefix),
    listWantedPeerings(secrets, secretPrefix),
  ]);
  return ephemeral(statusText(clusters, peerings));
}
