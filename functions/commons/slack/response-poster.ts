import type { Dispatcher } from 'undici';
// undici's request and pool without its main entry (fetch, WebSocket, mocks…): see undici-core.ts.
import { Agent, request } from '../consul/undici-core';
import { AutomationError, PermanentError } from '../errors';
import type { SlackMessage } from './messages';
import { isAllowedResponseUrl, originOf, SLACK_RESPONSE_URL_BASE } from './response-url';

/** Slack did not take the message but may later (5xx, 429, timeout, network): retry via the queue. */
export class SlackUnavailableError extends AutomationError {
  readonly retryable = true;
  readonly reason = 'slack.unavailable';
}

export type PostResult =
  | { delivered: true; status: number }
  /** Slack refused it for good (expired url: 404 `expired_url`, a bad payload, …). */
  | { delivered: false; status: number; detail: string };

export interface ResponsePoster {
  post(responseUrl: string, message: SlackMessage): Promise<PostResult>;
}

export interface SlackResponsePosterOptions {
  /** Posts go only under this base; tests point it at a local server. */
  allowedBase?: string;
  /** undici dispatcher (a MockAgent in unit tests); a connection pool of its own by default. */
  dispatcher?: Dispatcher;
  /** For the whole exchange; well inside the function's timeout, so a retry is reported, not lost. */
  timeoutMs?: number;
}

const DETAIL_CHARS = 200;

/**
 * Posts a message to a slash command's response_url with undici. Errors and results name the URL's
 * origin only: the rest of it is the capability.
 */
export class SlackResponsePoster implements ResponsePoster {
  readonly allowedBase: string;
  readonly #dispatcher: Dispatcher;
  readonly #timeoutMs: number;

  constructor(options: SlackResponsePosterOptions = {}) {
    this.allowedBase = options.allowedBase ?? SLACK_RESPONSE_URL_BASE;
    this.#dispatcher = options.dispatcher ?? new Agent();
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  async post(responseUrl: string, message: SlackMessage): Promise<PostResult> {
    if (!isAllowedResponseUrl(responseUrl, this.allowedBase)) {
      throw new PermanentError(
        `refused to post to ${originOf(responseUrl)}: response URLs must be under ${this.allowedBase}`,
        'slack.response-url-not-allowed',
      );
    }
    let response: Dispatcher.ResponseData;
    try {
      const url = new URL(responseUrl);
      // No redirects are followed (undici's request never does): a post goes where it was allowed to.
      response = await request(this.#dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify(message),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      // The code only: a network error's message could quote the request.
      const code = errorCode(error);
      throw new SlackUnavailableError(`posting to ${originOf(responseUrl)} failed: ${code}`);
    }
    const detail = await readDetail(response);
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { delivered: true, status };
    if (status === 429 || status >= 500) {
      throw new SlackUnavailableError(`${originOf(responseUrl)} answered HTTP ${status}: ${detail}`);
    }
    return { delivered: false, status, detail };
  }
}

async function readDetail(response: Dispatcher.ResponseData): Promise<string> {
  try {
    const text = await response.body.text();
    return text.slice(0, DETAIL_CHARS).replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === 'string') return code;
    if (typeof name === 'string') return name;
  }
  return 'unknown error';
}
