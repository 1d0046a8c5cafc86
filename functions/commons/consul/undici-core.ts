/**
 * The two parts of undici this client uses (the connection pool and `request`), imported from undici's
 * own modules rather than its main entry (and `request` alone, not the API index that also loads
 * stream, pipeline, upgrade and connect). Why: the main entry also loads fetch, WebSocket, EventSource,
 * the cache, mocks and HTTP/2 client code, about 720 KB of each Lambda bundle and most of its cold start;
 * these two parts are under a third of that (see README, "Bundle weight"). undici publishes no `exports`
 * map, so these paths are part of its package; their types come from the main entry's declarations.
 */
import type { Dispatcher } from 'undici';
import AgentImplementation from 'undici/lib/dispatcher/agent.js';
import requestImplementation from 'undici/lib/api/api-request.js';

export const Agent = AgentImplementation;
export type Agent = InstanceType<typeof AgentImplementation>;

/** undici's `request()` on a given dispatcher (an Agent, or a MockAgent in unit tests). */
export function request(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return requestImplementation.call(dispatcher, options);
}
