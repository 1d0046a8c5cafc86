export { ConsulClient, type ConsulClientOptions, DEFAULT_TIMEOUT_MS, ESTABLISH_TIMEOUT_MS } from './client';
export * from '../ports/consul-error';
export { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry';
export type * from '../ports/consul-types';
