import { PermanentError } from '../errors';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE } from '../naming';

/**
 * Computes the mesh config entry to write so that peering control-plane traffic goes through mesh
 * gateways, or undefined when the current entry already does (then nothing is written).
 *
 * The entry is merged as raw JSON, never rebuilt from a typed shape: Consul rejects unknown keys
 * and newer versions add fields, so a typed round trip would drop what the operator set.
 */
export function meshEntryWithPeeringThroughGateways(
  current: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  const peering = asObject(current?.Peering);
  const meta = asStringMap(current?.Meta);
  const enabled = peering.PeerThroughMeshGateways === true;
  const owner = meta['external-source'];
  if (enabled && (meta[MANAGED_BY_KEY] === MANAGED_BY_VALUE || owner !== undefined)) return undefined;
  if (!enabled && owner !== undefined) {
    // consul-k8s (and others) own their entries and would revert our write; tell the operator where to fix it.
    throw new PermanentError(
      `the mesh config entry is managed by "${owner}" (Meta.external-source); enable ` +
        'Peering.PeerThroughMeshGateways there instead (for Kubernetes: the Mesh CRD spec.peering.peerThroughMeshGateways)',
      'mesh-entry-owned-elsewhere',
    );
  }
  const next = structuredClone(current ?? {});
  delete next.CreateIndex;
  delete next.ModifyIndex;
  next.Kind = 'mesh';
  next.Peering = { ...peering, PeerThroughMeshGateways: true };
  next.Meta = { ...meta, [MANAGED_BY_KEY]: MANAGED_BY_VALUE };
  return next;
}

/** True when peering control-plane traffic is configured to go through mesh gateways. */
export function peersThroughMeshGateways(entry: Record<string, unknown> | undefined): boolean {
  return asObject(entry?.Peering).PeerThroughMeshGateways === true;
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function asStringMap(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(asObject(value)).filter((pair): pair is [string, string] => typeof pair[1] === 'string'),
  );
}
