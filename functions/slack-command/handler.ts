import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { ValidationError } from '#commons/errors';
import { workflowLog } from '#commons/observability/logger';
import type { Clock } from '#commons/ports/clock';
import type { EventPublisher } from '#commons/ports/event-publisher';
import type { SecretStore } from '#commons/ports/secret-store';
import {
  CommandUsageError,
  isSslCheck,
  parseCommandText,
  parseSlashCommandForm,
  type SlashCommandRequest,
} from '#commons/slack/command-parser';
import {
  ephemeral,
  failedToRequestText,
  helpText,
  refusalText,
  unknownCommandText,
  usageErrorText,
  type SlackMessage,
} from '#commons/slack/messages';
import { isAllowedResponseUrl, originOf, SLACK_RESPONSE_URL_BASE } from '#commons/slack/response-url';
import { verifySlackSignature } from '#commons/slack/verify-signature';
import { describeStatus, requestPeering, type CommandContext } from './commands';

export interface SlackCommandConfig {
  secretPrefix: string;
  allowedUserIds: ReadonlySet<string>;
  allowedChannelIds: ReadonlySet<string>;
  /** A command's response_url must lie under this base (tests point it at a local server). */
  responseUrlBase?: string;
  /** Largest body accepted; a slash command's form is a few hundred bytes. */
  maxBodyBytes?: number;
}

export interface SlackCommandDependencies {
  config: SlackCommandConfig;
  /** The app's signing secret; index.ts reads it once per cold start. */
  signingSecret: () => Promise<string>;
  secrets: SecretStore;
  events: EventPublisher;
  clock: Clock;
  logger: Logger;
  /** The correlation id of a new request; random by default. */
  newRequestId?: () => string;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024;
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/**
 * The `/peering` slash command behind a Lambda function URL. The checks run from the cheapest, and
 * nothing is parsed before the signature: method (405), size (413), content type (415), signature over
 * the raw bytes (401, nothing else said), form (400), then who asks from where (a polite ephemeral
 * refusal). Only then does a command run, and only `peer` publishes anything. Every reply is JSON that
 * Slack shows to the requester alone.
 */
export function createSlackCommandHandler(deps: SlackCommandDependencies) {
  const { config, clock, logger } = deps;
  const maxBodyBytes = config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const responseUrlBase = config.responseUrlBase ?? SLACK_RESPONSE_URL_BASE;
  const newRequestId = deps.newRequestId ?? (() => `slack-${crypto.randomUUID()}`);
  const commandContext: CommandContext = {
    secrets: deps.secrets,
    events: deps.events,
    secretPrefix: config.secretPrefix,
    log: workflowLog(logger),
  };

  const handle = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    if (event.requestContext.http.method !== 'POST')
      return plain(405, 'Method Not Allowed', { allow: 'POST' });

    const rawBody = readRawBody(event, maxBodyBytes);
    if (rawBody === undefined) {
      logger.warn('request refused: body too large', { limitBytes: maxBodyBytes });
      return plain(413, 'Payload Too Large');
    }
    const contentType = mediaType(header(event, 'content-type'));
    if (contentType !== FORM_CONTENT_TYPE) {
      logger.warn('request refused: wrong content type', { contentType: contentType?.slice(0, 100) ?? null });
      return plain(415, 'Unsupported Media Type');
    }

    let signingSecret: string;
    try {
      signingSecret = await deps.signingSecret();
    } catch (error) {
      logger.error('the Slack signing secret is unavailable', { error: errorMessage(error) });
      return plain(500, 'Internal Server Error');
    }
    const verdict = verifySlackSignature({
      headers: event.headers,
      rawBody,
      signingSecret,
      now: clock.now(),
    });
    if (!verdict.ok) {
      logger.warn('request refused: bad signature', { reason: verdict.reason, detail: verdict.message });
      return plain(401, 'Unauthorized');
    }

    const body = new TextDecoder().decode(rawBody);
    if (isSslCheck(body)) return plain(200, '');
    let request: SlashCommandRequest;
    try {
      request = parseSlashCommandForm(body);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      logger.warn('request refused: malformed slash command', { field: error.field, error: error.message });
      return plain(400, 'Bad Request');
    }
    if (!isAllowedResponseUrl(request.responseUrl, responseUrlBase)) {
      logger.warn('request refused: response_url outside the allowed base', {
        origin: originOf(request.responseUrl),
      });
      return plain(400, 'Bad Request');
    }

    const who = { userId: request.userId, channelId: request.channelId, teamId: request.teamId };
    if (!config.allowedUserIds.has(request.userId) || !config.allowedChannelIds.has(request.channelId)) {
      logger.warn('command refused: user or channel not allowed', {
        ...who,
        userAllowed: config.allowedUserIds.has(request.userId),
        channelAllowed: config.allowedChannelIds.has(request.channelId),
      });
      return reply(ephemeral(refusalText()));
    }

    const requestId = newRequestId();
    logger.appendKeys({ correlationId: requestId });
    try {
      logger.info('slash command', { ...who, command: request.command });
      return reply(await run(request, requestId));
    } catch (error) {
      logger.error('slash command failed', { error: errorMessage(error) });
      return reply(ephemeral(failedToRequestText(requestId)));
    } finally {
      logger.removeKeys(['correlationId']);
    }
  };

  const run = async (request: SlashCommandRequest, requestId: string): Promise<SlackMessage> => {
    let command;
    try {
      command = parseCommandText(request.text);
    } catch (error) {
      if (error instanceof CommandUsageError) return ephemeral(usageErrorText(request.command, error));
      throw error;
    }
    switch (command.kind) {
      case 'help':
        return ephemeral(helpText(request.command));
      case 'unknown':
        return ephemeral(unknownCommandText(request.command, command.word));
      case 'status':
        return describeStatus(commandContext);
      case 'peer':
        return requestPeering(command, request, requestId, commandContext);
    }
  };

  return middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>().handler(handle);
}

/**
 * The body's bytes, decoding base64 when the function URL encoded it; undefined when larger than the
 * limit. The size is checked before decoding, so an oversized body is never copied.
 */
function readRawBody(event: APIGatewayProxyEventV2, maxBytes: number): Buffer | undefined {
  const body = event.body ?? '';
  if (event.isBase64Encoded) {
    if (body.length > Math.ceil(maxBytes / 3) * 4) return undefined;
    const bytes = Buffer.from(body, 'base64');
    return bytes.length > maxBytes ? undefined : bytes;
  }
  if (Buffer.byteLength(body, 'utf8') > maxBytes) return undefined;
  return Buffer.from(body, 'utf8');
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  for (const [key, value] of Object.entries(event.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

const mediaType = (contentType: string | undefined): string | undefined =>
  contentType?.split(';', 1)[0]?.trim().toLowerCase();

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const reply = (message: SlackMessage): APIGatewayProxyStructuredResultV2 => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(message),
});

const plain = (
  statusCode: number,
  text: string,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body: text,
});
