import type { Logger } from '@aws-lambda-powertools/logger';
import { createLogger } from '#commons/observability/logger';
import { isWrite, type ConsulCall } from '#devkit/consul-call-recorder';

/** Reads and writes per cluster, and calls per `cluster.method`. */
export function tally(calls: readonly ConsulCall[], clusters: readonly string[]) {
  const reads: Record<string, number> = Object.fromEntries(clusters.map((c) => [c, 0]));
  const writes: Record<string, number> = Object.fromEntries(clusters.map((c) => [c, 0]));
  const byMethod: Record<string, number> = {};
  for (const call of calls) {
    const bucket = isWrite(call) ? writes : reads;
    bucket[call.cluster] = (bucket[call.cluster] ?? 0) + 1;
    const key = `${call.cluster}.${call.method}`;
    byMethod[key] = (byMethod[key] ?? 0) + 1;
  }
  return { reads, writes, byMethod };
}

/**
 * The handlers' logger (createLogger, level from LOG_LEVEL) that also reports every `cluster onboarded`
 * record of the onboarding workflow (logged after its last step), whatever the level and from child
 * loggers too, so the benchmark knows onboarding has finished before it starts a timer.
 */
export function onboardingAwareLogger(serviceName: string, onOnboarded: (cluster: string) => void): Logger {
  const watch = (logger: Logger): Logger =>
    new Proxy(logger, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (property === 'createChild')
          return (...args: unknown[]) => watch(method.apply(target, args) as Logger);
        if (property !== 'info') return method.bind(target);
        return (message: unknown, ...rest: unknown[]) => {
          const attributes = rest[0] as { cluster?: unknown } | undefined;
          if (message === 'cluster onboarded' && typeof attributes?.cluster === 'string')
            onOnboarded(attributes.cluster);
          return method.apply(target, [message, ...rest]);
        };
      },
    });
  return watch(createLogger(serviceName));
}
