/**
 * The fleet file of `peerctl apply -f`: the clusters, the peerings between them and a few settings, as
 * one zod schema. The same schema validates a file (every problem at once, with its path) and is
 * published as `schemas/fleet.schema.json` for editors and CI. Field shapes are the event contract's
 * own (cluster, service and gateway schemas), so what passes here also passes `createEvent`.
 * Full zod, not zod/mini: this runs in the CLI only, never in a Lambda bundle.
 */
import * as z from 'zod';
import { isConsulAddress } from '#commons/clusters';
import { ClusterNameSchema, MeshGatewaySchema, ServiceNameSchema } from '#commons/events/index';
import { EXPECT } from '../fields';

/** As `peerctl peer --export` allows. */
const MAX_EXPORTS = 100;
const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const partitionPattern = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const secretPrefixPattern = /^(?!\/)[A-Za-z0-9/_+=.@-]{1,256}(?<!\/)$/;

const pathField = (what: string) =>
  z
    .string()
    .min(1, { error: `expected ${what}` })
    .describe(
      `${what}; "~/" is the home directory, other relative paths are relative to the working directory`,
    );

export const FleetClusterSchema = z
  .strictObject({
    name: ClusterNameSchema,
    address: z
      .string()
      .refine(isConsulAddress, { error: `expected ${EXPECT.address}` })
      .describe("Consul's HTTP(S) API, http(s)://host:port."),
    tokenFile: pathField("a file holding the automation's ACL token").optional(),
    tokenEnv: z
      .string()
      .regex(envNamePattern, { error: `expected ${EXPECT.envName}` })
      .optional()
      .describe(
        'An environment variable holding the ACL token. A token is never written in the file itself. Default when neither tokenFile nor tokenEnv is given: CONSUL_HTTP_TOKEN.',
      ),
    caFile: pathField("PEM of the CA that signed Consul's HTTPS certificate (https only)").optional(),
    clientCertFile: pathField(
      'PEM client certificate, for an agent with verify_incoming on HTTPS',
    ).optional(),
    clientKeyFile: pathField('the private key of clientCertFile (unencrypted PEM)').optional(),
    partition: z
      .string()
      .regex(partitionPattern, { error: `expected ${EXPECT.partition}` })
      .optional()
      .describe('Admin partition (Consul Enterprise only).'),
    gateway: z
      .optional(MeshGatewaySchema)
      .describe(
        'The mesh gateway the automation registers; omit it when a gateway "mesh-gateway" is registered already.',
      ),
  })
  .describe('A Consul cluster (datacenter), registered as peerctl cluster add does.');

export const FleetPeeringSchema = z
  .strictObject({
    acceptor: ClusterNameSchema,
    dialer: ClusterNameSchema,
    exportServices: z
      .array(ServiceNameSchema)
      .default([])
      .describe(
        "Services the acceptor exports to the dialer, merged into the acceptor's exported-services entry.",
      ),
  })
  .describe(
    'A wanted peering, requested as peerctl peer does: the acceptor (a name from clusters) generates the peering token, the dialer (another name from clusters) establishes the peering with it.',
  );

export const FleetSettingsSchema = z
  .strictObject({
    secretPrefix: z
      .string()
      .regex(secretPrefixPattern, { error: `expected ${EXPECT.secretPrefix}` })
      .optional()
      .describe('Secret name prefix (default: $SECRET_PREFIX, else "consul-peering").'),
    timeoutSeconds: z
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe('How long apply waits for the outcomes (default 300).'),
  })
  .describe('How apply runs.');

type RawFleet = {
  clusters?: unknown;
  peerings?: unknown;
};
const entries = (value: unknown): Record<string, unknown>[] =>
  Array.isArray(value)
    ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null)
    : [];
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The rules between fields and between entries. They read the raw input defensively and run even when
 * a field is malformed (`when`), so one run names every problem of the file.
 */
function crossChecks(fleet: RawFleet, ctx: z.RefinementCtx): void {
  const clusters = Array.isArray(fleet.clusters) ? (fleet.clusters as unknown[]) : [];
  const names = new Map<string, number>();
  for (const [i, raw] of clusters.entries()) {
    if (typeof raw !== 'object' || raw === null) continue;
    const cluster = raw as Record<string, unknown>;
    const name = text(cluster.name);
    if (name !== undefined) {
      const first = names.get(name);
      if (first === undefined) names.set(name, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `expected a name not used before, got "${name}" (also clusters[${first}].name)`,
        });
    }
    if (cluster.tokenFile !== undefined && cluster.tokenEnv !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', i, 'tokenEnv'],
        message: 'expected only one of tokenFile and tokenEnv, got both',
      });
    if ((cluster.clientCertFile === undefined) !== (cluster.clientKeyFile === undefined)) {
      const missing = cluster.clientCertFile === undefined ? 'clientCertFile' : 'clientKeyFile';
      ctx.addIssue({
        code: 'custom',
        path: ['clusters', i, missing],
        message: `expected ${missing} with ${missing === 'clientCertFile' ? 'clientKeyFile' : 'clientCertFile'} (a client certificate and its key go together), got nothing`,
      });
    }
    const address = text(cluster.address);
    if (address !== undefined && isConsulAddress(address) && !address.startsWith('https://')) {
      for (const field of ['caFile', 'clientCertFile', 'clientKeyFile'] as const) {
        if (cluster[field] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['clusters', i, field],
            message: `expected no ${field} with an http:// address (TLS files are for https), got one`,
          });
      }
    }
  }
  const known = [...names.keys()];
  const pairs = new Map<string, number>();
  for (const [i, peering] of entries(fleet.peerings).entries()) {
    const acceptor = text(peering.acceptor);
    const dialer = text(peering.dialer);
    for (const [role, name] of [
      ['acceptor', acceptor],
      ['dialer', dialer],
    ] as const) {
      if (name !== undefined && !names.has(name))
        ctx.addIssue({
          code: 'custom',
          path: ['peerings', i, role],
          message: `expected a cluster named in clusters (${known.join(', ') || 'none'}), got "${name}"`,
        });
    }
    // Checked here, not by .max(): a failed length check would stop the other checks of the file.
    if (Array.isArray(peering.exportServices) && peering.exportServices.length > MAX_EXPORTS)
      ctx.addIssue({
        code: 'custom',
        path: ['peerings', i, 'exportServices'],
        message: `expected at most ${MAX_EXPORTS} services, got ${peering.exportServices.length}`,
      });
    if (acceptor === undefined || dialer === undefined) continue;
    if (acceptor === dialer) {
      ctx.addIssue({
        code: 'custom',
        path: ['peerings', i, 'dialer'],
        message: `expected another cluster than the acceptor (a cluster cannot peer with itself), got "${dialer}"`,
      });
      continue;
    }
    // A pair is peered once: a peer name is either accepted or dialed on a cluster, not both.
    const key = [acceptor, dialer].sort().join('/');
    const first = pairs.get(key);
    if (first === undefined) pairs.set(key, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: ['peerings', i],
        message: `expected each pair of clusters once, got ${acceptor} and ${dialer} again (also peerings[${first}])`,
      });
  }
}

export const FleetSchema = z
  .strictObject({
    $schema: z.string().optional().describe('The JSON Schema of this file, for editors.'),
    settings: FleetSettingsSchema.default({}),
    clusters: z.array(FleetClusterSchema).describe('Every cluster apply manages.'),
    peerings: z.array(FleetPeeringSchema).default([]).describe('Every peering apply manages.'),
  })
  .superRefine(crossChecks, { when: () => true })
  .meta({
    title: 'peerctl fleet file',
    description:
      'The clusters and peerings peerctl apply -f makes true (YAML or JSON). Cross-field rules, checked by peerctl: names are unique, each pair is peered once, peerings name clusters from clusters, tokenFile and tokenEnv exclude each other, clientCertFile and clientKeyFile go together, TLS files only with https.',
  });

export type Fleet = z.output<typeof FleetSchema>;
export type FleetCluster = z.output<typeof FleetClusterSchema>;
export type FleetPeering = z.output<typeof FleetPeeringSchema>;
