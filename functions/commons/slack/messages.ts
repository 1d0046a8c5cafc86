import type { PeeringEstablishedEvent, PeeringFailedEvent } from '../events';
import { redactedErrorMessage } from '../observability/redact';
import type { CommandUsageError } from './command-parser';

/**
 * Every text the Slack integration shows a person. Slack reads `&`, `<` and `>` as control characters
 * (links, mentions), so anything that did not come from us is escaped.
 */
export interface SlackMessage {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
}

export const ephemeral = (text: string): SlackMessage => ({ response_type: 'ephemeral', text });

export const escapeMrkdwn = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const PEER_USAGE = (command: string) =>
  `\`${command} peer <acceptor> <dialer>\`, e.g. \`${command} peer dc1 dc2\``;

export function helpText(command: string): string {
  return [
    `*${command}* peers Consul clusters through their mesh gateways.`,
    `• ${PEER_USAGE(command)}: peer two registered clusters. The acceptor (dc1) generates the peering token, ` +
      'the dialer (dc2) uses it. I answer at once and post the result in this channel when both sides are ACTIVE.',
    `• \`${command} status\`: the registered clusters and the requested peerings.`,
    `• \`${command} help\`: this message.`,
  ].join('\n');
}

export const unknownCommandText = (command: string, word: string): string =>
  `I do not know \`${escapeMrkdwn(word)}\`.\n${helpText(command)}`;

export function usageErrorText(command: string, error: CommandUsageError): string {
  const how =
    error.usage === 'peer'
      ? `Usage: ${PEER_USAGE(command)}.`
      : error.usage === 'status'
        ? `Usage: \`${command} status\`.`
        : `Try \`${command} help\`.`;
  return `${escapeMrkdwn(error.message)}\n${how}`;
}

export const refusalText = (): string =>
  'Sorry, you cannot run peering commands here. Ask an administrator of the Consul peering automation to ' +
  'add your user and this channel to its allowed lists.';

export const unknownClustersText = (command: string, names: readonly string[]): string =>
  `Unknown cluster${names.length === 1 ? '' : 's'}: ${names.map((name) => `\`${name}\``).join(', ')}. ` +
  `A cluster must be registered before it can be peered; \`${command} status\` lists the registered ones.`;

export const peeringRequestedText = (acceptor: string, dialer: string, requestId: string): string =>
  `Peering \`${acceptor}\` → \`${dialer}\` requested (request ${requestId}). I will post the result here.`;

export const failedToRequestText = (requestId: string): string =>
  `Something went wrong while handling this command (request ${requestId}); it may not have been ` +
  'queued. Check the status in a minute, then try again.';

/** At most this many entries of each list, so a reply stays readable and far below Slack's limits. */
const STATUS_LIST_LIMIT = 50;

export function statusText(
  clusters: readonly string[],
  peerings: readonly { acceptor: string; dialer: string }[],
): string {
  const list = <T>(items: readonly T[], render: (item: T) => string): string => {
    if (items.length === 0) return '_none_';
    const shown = items.slice(0, STATUS_LIST_LIMIT).map(render).join(', ');
    return items.length > STATUS_LIST_LIMIT ? `${shown} and ${items.length - STATUS_LIST_LIMIT} more` : shown;
  };
  return [
    `*Registered clusters* (${clusters.length}): ${list(clusters, (name) => `\`${name}\``)}`,
    `*Requested peerings* (${peerings.length}, acceptor → dialer): ${list(
      peerings,
      (p) => `\`${p.acceptor}\` → \`${p.dialer}\``,
    )}`,
  ].join('\n');
}

/** A failure's message in Slack: scrubbed of anything secret-shaped and short; the detail is in the logs. */
export const OUTCOME_MESSAGE_MAX_LENGTH = 300;

/**
 * The result of a request, posted where it was asked for. An established peering is news for the
 * channel (`in_channel`, built from our own fields only). A failure goes only to the requester
 * (`ephemeral`): its message may carry Consul's or the network's words (addresses, host names) that
 * the channel does not need, so it is also scrubbed and cut short; the full text is in the logs under
 * the request id.
 */
export function outcomeMessage(
  event: PeeringEstablishedEvent | PeeringFailedEvent,
  requesterId: string | undefined,
): SlackMessage {
  return {
    response_type: event.type === 'peering.established' ? 'in_channel' : 'ephemeral',
    text: outcomeText(event, requesterId),
  };
}

/** The text of outcomeMessage; the requester is mentioned when known. */
export function outcomeText(
  event: PeeringEstablishedEvent | PeeringFailedEvent,
  requesterId: string | undefined,
): string {
  const mention = requesterId === undefined ? '' : `<@${requesterId}> `;
  const pair = `\`${event.data.acceptor.name}\` → \`${event.data.dialer.name}\``;
  if (event.type === 'peering.established') {
    return (
      `${mention}:white_check_mark: Peering ${pair} is established: ${escapeMrkdwn(event.data.acceptorState)} ` +
      `on \`${event.data.acceptor.name}\`, ${escapeMrkdwn(event.data.dialerState)} on ` +
      `\`${event.data.dialer.name}\` (peering ${event.data.peeringId}, request ${event.correlationId}).`
    );
  }
  return (
    `${mention}:x: Peering ${pair} failed (\`${event.data.reason}\`, request ${event.correlationId}).\n` +
    escapeMrkdwn(redactedErrorMessage(event.data.message, OUTCOME_MESSAGE_MAX_LENGTH))
  );
}
