import type { Dispatcher } from 'undici';
import { request } from './undici-core';

import { ConsulError, isConsulError, type ConsulRequestLabel } from '#commons/ports/consul-error';
import { ShapeError } from './decoders';
import { errorFromNetworkFailure, timeoutError } from './network-errors';
import { redactor } from '../observability/redact';
import { errorFromResponse } from './response-errors';
import { backoffDelay, type RetryPolicy, sleep } from './retry';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface ConsulRequest {
  method: HttpMethod;
  /** Path with every dynamic segment already percent-encoded. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Serialised as JSON. */
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Overrides the transport's per-attempt timeout (e.g. the synchronous peering establish). */
  timeoutMs?: number | undefined;
  /** Values in this request that must never reach an error message (a SecretID, a peering token). */
  secrets?: readonly string[];
  /** Attempts for this request; defaults to the retry policy's. */
  maxAttempts?: number;
  /** Whether the endpoint takes `?partition=` (Enterprise). Default true. */
  partitioned?: boolean;
}

export interface ConsulResponse {
  status: number;
  text: string;
}

export interface TransportOptions {
  /** Origin only, e.g. `https://consul.internal:8501`. */
  address: string;
  token: string | undefined;
  partition: string | undefined;
  timeoutMs: number;
  dispatcher: Dispatcher;
  retry: RetryPolicy;
}

/**
 * One HTTP exchange with Consul, done right once: timeout and caller abort on every attempt, typed
 * errors, redaction of secrets, and retries only where repeating cannot do harm.
 */
export class ConsulTransport {
  readonly address: string;
  readonly timeoutMs: number;
  readonly #token: string | undefined;
  readonly #partition: string | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #retry: RetryPolicy;

  constructor(options: TransportOptions) {
    this.address = options.address;
    this.timeoutMs = options.timeoutMs;
    this.#token = options.token;
    this.#partition = options.partition;
    this.#dispatcher = options.dispatcher;
    this.#retry = options.retry;
  }

  /** Sends the request and returns the 2xx answer; anything else is thrown as a ConsulError. */
  async send(req: ConsulRequest): Promise<ConsulResponse> {
    const attempts = req.maxAttempts ?? this.#retry.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(req);
      } catch (error) {
        if (attempt >= attempts || !mayRetry(req.method, error)) throw error;
        await sleep(backoffDelay(this.#retry, attempt), req.signal);
      }
    }
  }

  /** Sends the request and decodes its JSON answer. */
  async json<T>(req: ConsulRequest, decode: (json: unknown) => T): Promise<T> {
    const { status, text } = await this.send(req);
    const label = { method: req.method, path: req.path };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConsulError(
        'unexpected-response',
        label,
        status,
        `Consul ${req.method} ${req.path} at ${this.address}: the answer is not JSON. ` +
          'Check that the address points at a Consul agent and not at a proxy or another service.',
      );
    }
    try {
      return decode(parsed);
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      throw new ConsulError(
        'unexpected-response',
        label,
        status,
        `Consul ${req.method} ${req.path} at ${this.address}: unexpected answer (${error.message}). ` +
          'Check that the agent runs a supported Consul version (1.14 or later).',
      );
    }
  }

  async #attempt(req: ConsulRequest): Promise<ConsulResponse> {
    const label: ConsulRequestLabel = { method: req.method, path: req.path };
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    const redact = redactor([this.#token, ...(req.secrets ?? [])]);

    let status: number;
    let text: string;
    try {
      const url = new URL(this.#url(req));
      const response = await request(this.#dispatcher, {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method,
        headers: this.#headers(req.body !== undefined),
        body: req.body === undefined ? null : JSON.stringify(req.body),
        signal,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason;
      if (timeout.aborted) throw timeoutError(label, this.address, timeoutMs);
      throw errorFromNetworkFailure(label, this.address, error, redact);
    }
    if (status >= 200 && status < 300) return { status, text };
    throw errorFromResponse(label, status, redact(text));
  }

  #url(req: ConsulRequest): string {
    const params = new URLSearchParams();
    if (this.#partition && req.partitioned !== false) params.set('partition', this.#partition);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value !== undefined) params.set(key, value);
    }
    const query = params.toString();
    return `${this.address}${req.path}${query ? `?${query}` : ''}`;
  }

  #headers(hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (hasBody) headers['content-type'] = 'application/json';
    if (this.#token) headers['x-consul-token'] = this.#token;
    return headers;
  }
}

/**
 * Reads are repeated on transient failures. Writes are repeated only when Consul cannot have seen
 * them (refused, DNS, connect timeout): a write that timed out or hit a 5xx may have been applied,
 * and repeating a peering token generation, for one, would invalidate the token just issued.
 */
function mayRetry(method: HttpMethod, error: unknown): boolean {
  if (isConsulError(error, 'connection')) return method === 'GET' || error.requestNotSent;
  if (isConsulError(error, 'unavailable')) return method === 'GET';
  return false;
}
