import { isConsulError } from '#commons/ports/consul-error';
import { NotReadyError } from '../errors';
import type { ConsulApi } from '../ports/consul-api';

const MAX_CAS_ATTEMPTS = 5;

/**
 * Ensures each service is exported to the peer, merged into the `exported-services` entry (CE: name
 * `default`): other services and other consumers are kept, nothing is removed. No write when every
 * service already lists the peer as a consumer.
 */
export async function ensureExportedServices(
  consul: ConsulApi,
  peer: string,
  services: readonly string[],
): Promise<{ changed: boolean }> {
  if (services.length === 0) return { changed: false };
  for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
    const current = await consul.readConfigEntryRaw('exported-services', 'default');
    const desired = withExports(current?.entry, peer, services);
    if (desired === undefined) return { changed: false };
    try {
      await consul.writeConfigEntryCas(desired, current?.modifyIndex ?? 0);
      return { changed: true };
    } catch (error) {
      if (!isConsulError(error, 'cas-conflict')) throw error;
    }
  }
  throw new NotReadyError(
    `the exported-services entry kept changing under us (${MAX_CAS_ATTEMPTS} CAS conflicts)`,
  );
}

type ExportedService = { Name?: unknown; Consumers?: unknown } & Record<string, unknown>;

/** The merged entry, or undefined when nothing needs to change. Unknown fields pass through untouched. */
export function withExports(
  current: Record<string, unknown> | undefined,
  peer: string,
  services: readonly string[],
): ({ Kind: string } & Record<string, unknown>) | undefined {
  const next: Record<string, unknown> = structuredClone(current ?? { Name: 'default' });
  delete next.CreateIndex;
  delete next.ModifyIndex;
  const list: ExportedService[] = Array.isArray(next.Services) ? (next.Services as ExportedService[]) : [];
  let changed = current === undefined;
  for (const name of services) {
    let service = list.find((s) => s.Name === name);
    if (service === undefined) {
      service = { Name: name, Consumers: [] };
      list.push(service);
      changed = true;
    }
    const consumers = Array.isArray(service.Consumers)
      ? (service.Consumers as Record<string, unknown>[])
      : [];
    if (!consumers.some((c) => c.Peer === peer || c.PeerName === peer)) {
      consumers.push({ Peer: peer });
      changed = true;
    }
    service.Consumers = consumers;
  }
  if (!changed) return undefined;
  return { ...next, Kind: 'exported-services', Services: list };
}
