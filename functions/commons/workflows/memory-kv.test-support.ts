import type { KvEntry } from '../ports/consul-types';
import type { ConsulApi } from '../ports/consul-api';

/** Consul's KV check-and-set semantics in memory, for unit tests of the pair lock and its callers. */
export function memoryKv(): Pick<ConsulApi, 'readKey' | 'writeKeyCas' | 'deleteKeyCas'> & {
  entries: Map<string, KvEntry>;
} {
  const entries = new Map<string, KvEntry>();
  let index = 1;
  return {
    entries,
    readKey: (key) => Promise.resolve(entries.get(key)),
    writeKeyCas: (key, value, cas) => {
      const current = entries.get(key);
      if ((current?.modifyIndex ?? 0) !== cas) return Promise.resolve(false);
      entries.set(key, { value: JSON.parse(JSON.stringify(value)) as unknown, modifyIndex: ++index });
      return Promise.resolve(true);
    },
    deleteKeyCas: (key, cas) => {
      const current = entries.get(key);
      if (current !== undefined && current.modifyIndex !== cas) return Promise.resolve(false);
      entries.delete(key);
      return Promise.resolve(true);
    },
  };
}
