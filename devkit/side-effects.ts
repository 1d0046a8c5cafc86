import { CONSUL_WRITE_METHODS, type ConsulApi } from '#commons/ports/consul-api';
import type { EventPublisher } from '#commons/ports/event-publisher';
import type { SecretStore } from '#commons/ports/secret-store';

/**
 * A simulated crash of the function at a side effect. Deliberately not an AutomationError: no
 * workflow catches it, and the queue handler treats it as an unknown (retryable) failure, so the
 * record is not deleted and SQS delivers it again, exactly as after a Lambda that died mid-invocation.
 */
export class SimulatedCrash extends Error {
  constructor(
    readonly at: SideEffect,
    readonly when: 'before' | 'after',
  ) {
    super(`simulated crash ${when} side effect #${at.n} (${describeEffect(at)})`);
    this.name = 'SimulatedCrash';
  }
}

/** One call that changes state outside the function: a Consul write, a secret write, an event out. */
export interface SideEffect {
  /** 1-based position since the last `reset()`. */
  n: number;
  port: 'consul' | 'secrets' | 'events';
  /** Consul: the cluster; secrets: the secret; events: the event type. */
  subject: string;
  operation: string;
  /** False when a hook stopped it before the call was made (a crash "before"). */
  attempted: boolean;
}

export const describeEffect = (effect: Omit<SideEffect, 'n' | 'attempted'>): string =>
  effect.port === 'consul'
    ? `${effect.subject} ${effect.operation}`
    : effect.port === 'secrets'
      ? `secrets.${effect.operation} ${effect.subject}`
      : `publish ${effect.subject}`;

type Hook = {
  match: (effect: SideEffect) => boolean;
  when: 'before' | 'after';
  run: (effect: SideEffect) => Promise<void>;
  fired?: SideEffect;
};

export interface HookHandle {
  /** The side effect the hook ran at, once it has. */
  readonly fired: SideEffect | undefined;
}

/**
 * Counts every side effect the workflows make through the ports (LocalPipeline's `wrapConsul`,
 * `wrapSecrets`, `wrapEvents`) and runs one-shot hooks at chosen ones: a crash before or after the
 * Nth, or any fault (kill Consul, add a toxic) right before a named one. Enumerating N = 1, 2, … until
 * a run ends without reaching N visits every point between two consecutive side effects of a flow.
 */
export class SideEffects {
  readonly log: SideEffect[] = [];
  readonly #hooks = new Set<Hook>();

  reset(): void {
    this.log.length = 0;
    this.#hooks.clear();
  }

  /** Runs `run` once, at the first side effect that matches, before or after it takes effect. */
  at(
    match: (effect: SideEffect) => boolean,
    when: 'before' | 'after',
    run: (e: SideEffect) => Promise<void>,
  ) {
    const hook: Hook = { match, when, run };
    this.#hooks.add(hook);
    return {
      get fired() {
        return hook.fired;
      },
    } satisfies HookHandle;
  }

  /** The function crashes before (the effect never happens) or after (it happened) side effect #n. */
  crashAt(n: number, when: 'before' | 'after'): HookHandle {
    return this.at(
      (effect) => effect.n === n,
      when,
      (effect) => Promise.reject(new SimulatedCrash(effect, when)),
    );
  }

  /** The side effects whose call was made (the ones a crash "before" stopped are not). */
  get attempted(): number {
    return this.log.filter((e) => e.attempted).length;
  }

  private async around<T>(effect: Omit<SideEffect, 'n' | 'attempted'>, call: () => Promise<T>): Promise<T> {
    const numbered: SideEffect = { ...effect, n: this.log.length + 1, attempted: false };
    this.log.push(numbered);
    await this.fire(numbered, 'before');
    numbered.attempted = true;
    const result = await call();
    await this.fire(numbered, 'after');
    return result;
  }

  private async fire(effect: SideEffect, when: 'before' | 'after'): Promise<void> {
    for (const hook of this.#hooks) {
      if (hook.when !== when || !hook.match(effect)) continue;
      this.#hooks.delete(hook); // one-shot: the redelivered message runs through unharmed
      hook.fired = effect;
      await hook.run(effect);
    }
  }

  wrapConsul(cluster: string, api: ConsulApi): ConsulApi {
    return new Proxy(api, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        const method = value as (...a: unknown[]) => Promise<unknown>;
        if (!CONSUL_WRITE_METHODS.has(property as keyof ConsulApi)) return method.bind(target);
        return (...args: unknown[]) =>
          this.around({ port: 'consul', subject: cluster, operation: property }, () =>
            method.apply(target, args),
          );
      },
    });
  }

  wrapSecrets(store: SecretStore): SecretStore {
    return {
      get: (name, selector) => store.get(name, selector),
      list: (filter) => store.list(filter),
      put: (name, value, options) =>
        this.around({ port: 'secrets', subject: name, operation: 'put' }, () =>
          store.put(name, value, options),
        ),
      delete: (name, options) =>
        this.around({ port: 'secrets', subject: name, operation: 'delete' }, () =>
          store.delete(name, options),
        ),
    };
  }

  wrapEvents(publisher: EventPublisher): EventPublisher {
    return {
      publish: (event, options) =>
        this.around({ port: 'events', subject: event.type, operation: 'publish' }, () =>
          publisher.publish(event, options),
        ),
    };
  }
}
