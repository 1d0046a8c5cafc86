import { isConsulError } from '#commons/ports/consul-error';
import { NotReadyError } from '../errors';
import type { ConsulApi } from '../ports/consul-api';
import { meshEntryWithPeeringThroughGateways } from './mesh-entry-merge';

const MAX_CAS_ATTEMPTS = 5;

/**
 * Ensures the `mesh` config entry routes peering control-plane traffic through mesh gateways.
 * Read, merge as raw JSON, write with `?cas=<ModifyIndex>` (0 = create only if absent); when someone
 * else wrote in between, read again and merge again. No write at all when already compliant.
 */
export async function ensureMeshConfig(consul: ConsulApi): Promise<{ changed: boolean }> {
  for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
    const current = await consul.readConfigEntryRaw('mesh', 'mesh');
    const desired = meshEntryWithPeeringThroughGateways(current?.entry);
    if (desired === undefined) return { changed: false };
    try {
      await consul.writeConfigEntryCas({ ...desired, Kind: 'mesh' }, current?.modifyIndex ?? 0);
      return { changed: true };
    } catch (error) {
      if (!isConsulError(error, 'cas-conflict')) throw error;
    }
  }
  throw new NotReadyError(`the mesh config entry kept changing under us (${MAX_CAS_ATTEMPTS} CAS conflicts)`);
}
