import { performance } from 'node:perf_hooks';
import { CONSUL_WRITE_METHODS, type ConsulApi } from '#commons/ports/consul-api';

export interface ConsulCall {
  cluster: string;
  method: string;
  startedAt: number;
  endedAt?: number;
}

/**
 * Wraps one cluster's Consul API so every call the workflows make is recorded (method, start, end):
 * how tests prove "zero writes" and benchmarks count calls. Use as LocalPipeline's `wrapConsul`.
 */
export function recordingCalls(cluster: string, api: ConsulApi, calls: ConsulCall[]): ConsulApi {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const call: ConsulCall = { cluster, method: property, startedAt: performance.now() };
        calls.push(call);
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          const end = (): void => {
            call.endedAt = performance.now();
          };
          result.then(end, end);
        }
        return result;
      };
    },
  });
}

export const isWrite = (call: { method: string }): boolean =>
  CONSUL_WRITE_METHODS.has(call.method as keyof ConsulApi);
