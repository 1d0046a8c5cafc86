import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '../json';
import { peeringRecordSecretName, TAG_ACCEPTOR, TAG_DIALER, TAG_KIND } from '../naming';
import type { SecretStore } from '../ports/secret-store';

/** A wanted peering, as recorded when it was requested. No timestamps: replays must not add versions. */
export const PeeringRecordSchema = z.strictObject({
  acceptor: z.string(),
  dialer: z.string(),
  exportServices: z.array(z.string()),
});
export type PeeringRecord = z.infer<typeof PeeringRecordSchema>;

export async function readPeeringRecord(
  secrets: SecretStore,
  prefix: string,
  acceptor: string,
  dialer: string,
): Promise<PeeringRecord | undefined> {
  const stored = await secrets.get(peeringRecordSecretName(prefix, acceptor, dialer));
  if (stored === undefined) return undefined;
  const parsed = z.safeParse(PeeringRecordSchema, parseJsonOrUndefined(stored.value));
  return parsed.success ? parsed.data : undefined;
}

/**
 * Records (or updates) the wanted peering. A request without `exportServices` keeps the recorded
 * exports, so internal re-requests (token regeneration) never erase what a person asked for.
 */
export async function ensurePeeringRecord(
  secrets: SecretStore,
  prefix: string,
  request: { acceptor: string; dialer: string; exportServices: string[] | undefined },
): Promise<PeeringRecord> {
  const existing = await readPeeringRecord(secrets, prefix, request.acceptor, request.dialer);
  const record: PeeringRecord = {
    acceptor: request.acceptor,
    dialer: request.dialer,
    exportServices: [...new Set(request.exportServices ?? existing?.exportServices ?? [])].sort(),
  };
  if (existing !== undefined && JSON.stringify(existing) === JSON.stringify(record)) return record;
  await secrets.put(
    peeringRecordSecretName(prefix, request.acceptor, request.dialer),
    JSON.stringify(record),
    {
      description: `Wanted peering: ${request.acceptor} accepts, ${request.dialer} dials`,
      tags: { [TAG_KIND]: 'peering', [TAG_ACCEPTOR]: request.acceptor, [TAG_DIALER]: request.dialer },
    },
  );
  return record;
}
