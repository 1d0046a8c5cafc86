/**
 * The event contract: the one source of truth for runtime validation (these schemas), TypeScript types
 * (`z.infer` of them) and the JSON Schema files in `events/` (generated from them). Every object is
 * strict, so a misspelt field fails loudly instead of being dropped.
 */
import * as z from 'zod/mini';
import { en } from 'zod/locales';

// zod/mini ships no default locale (its issues would all read "Invalid input"). A named import from
// `zod/locales` lets bundlers keep only `en`; `z.locales.en()` drags every locale into the bundle
// (measured with esbuild: ~277 KB instead of ~16 KB).
z.config(en());

export const EVENT_VERSION = 1;
export const DEFAULT_GATEWAY_SERVICE_NAME = 'mesh-gateway';

/** Consul peer names are DNS labels, and a cluster's name becomes its peer name on the other side. */
export const ClusterNameSchema = z.string().check(
  z.regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    error:
      "must be a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
  }),
  z.describe(
    'A cluster (datacenter) name; it becomes the peer name on the other side, so it is a DNS label.',
  ),
);
export type ClusterName = z.infer<typeof ClusterNameSchema>;

export const SecretNameSchema = z.string().check(
  z.regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, {
    error: "must be a secret name: 1-512 characters of letters, digits and '/_+=.@-'",
  }),
  z.describe('The name of a Secrets Manager secret (never its value).'),
);
export type SecretName = z.infer<typeof SecretNameSchema>;

/** Consul service names should be DNS-compatible; Consul warns about any other. */
export const ServiceNameSchema = z.string().check(
  z.regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, {
    error: "must be a service name: 1-63 letters, digits or '-', starting and ending with a letter or digit",
  }),
);
export type ServiceName = z.infer<typeof ServiceNameSchema>;

// One pattern (not a union of schemas) so that JSON Schema consumers get the same check and a failure
// gets one message instead of three.
const hostOrIp = new RegExp(
  [z.regexes.hostname, z.regexes.ipv4, z.regexes.ipv6].map((r) => r.source).join('|'),
);

export const HostPortSchema = z
  .strictObject({
    address: z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(253),
        z.regex(hostOrIp, { error: 'must be a hostname or an IP address, without scheme or port' }),
      ),
    port: z.int().check(z.minimum(1), z.maximum(65535)),
  })
  .register(z.globalRegistry, { id: 'HostPort', description: 'A reachable address and port.' });
export type HostPort = z.infer<typeof HostPortSchema>;

export const ClusterRefSchema = z
  .strictObject({
    name: ClusterNameSchema,
    connectionSecret: SecretNameSchema.check(
      z.describe(
        'The secret holding the connection details ({address, caCert?, token, partition?}), by name: ' +
          '<prefix>/clusters/<name>.',
      ),
    ),
  })
  .register(z.globalRegistry, {
    id: 'ClusterRef',
    description: 'A cluster and the name of the secret holding its connection details.',
  });
export type ClusterRef = z.infer<typeof ClusterRefSchema>;

export const MeshGatewaySchema = z
  .strictObject({
    serviceName: z._default(ServiceNameSchema, DEFAULT_GATEWAY_SERVICE_NAME),
    lan: HostPortSchema.check(z.describe('The address the gateway listens on inside its cluster.')),
    wan: HostPortSchema.check(z.describe('The address peers reach the gateway at.')),
  })
  .register(z.globalRegistry, {
    id: 'MeshGateway',
    description: 'A mesh gateway for the automation to register in the cluster.',
  });
export type MeshGateway = z.infer<typeof MeshGatewaySchema>;

const nonNegativeInt = z.int().check(z.minimum(0));

// The description travels with the schema into the generated JSON Schema (`events/<type>.schema.json`).
const envelope = <const T extends string, D extends z.ZodMiniType>(type: T, description: string, data: D) =>
  z
    .strictObject({
      type: z.literal(type),
      version: z.literal(EVENT_VERSION),
      id: z.uuid({ error: 'must be a UUID' }),
      time: z.iso.datetime({
        offset: true,
        error: 'must be an ISO 8601 date-time with a zone, e.g. 2025-01-31T12:00:00Z',
      }),
      correlationId: z.string().check(
        z.regex(/^[A-Za-z0-9._:-]{1,128}$/, {
          error: "must be 1-128 characters of letters, digits and '._:-'",
        }),
        z.describe('Shared by every event of one request, from the first to the last.'),
      ),
      data,
    })
    .register(z.globalRegistry, { title: type, description });

export const ClusterRegisteredSchema = envelope(
  'cluster.registered',
  'A cluster was registered for peering (emitted by peerctl cluster add). Consumed by onboard-cluster: gateway ACL token, gateway registration when `gateway` is given, mesh config (PeerThroughMeshGateways), then a passing gateway.',
  z.strictObject({
    cluster: ClusterRefSchema,
    gateway: z.optional(
      MeshGatewaySchema.check(
        z.describe('Given when the automation should register the gateway; omitted when one is registered.'),
      ),
    ),
  }),
);

export const PeeringRequestedSchema = envelope(
  'peering.requested',
  "Two clusters should be peered. Emitted by the CLI, and by dial-peering when the acceptor's token was rejected (regenerateToken, regenerations + 1). Consumed by accept-peering. acceptor.name and dialer.name must differ (checked by the code; JSON Schema cannot express it).",
  z
    .strictObject({
      acceptor: ClusterRefSchema,
      dialer: ClusterRefSchema,
      regenerateToken: z.optional(z.boolean()),
      regenerations: z.optional(nonNegativeInt),
      exportServices: z.optional(
        z
          .array(ServiceNameSchema)
          .check(
            z.maxLength(100),
            z.describe(
              "Services the acceptor exports to the dialer (added to the acceptor's exported-services).",
            ),
          ),
      ),
    })
    .check(
      z.refine((data) => data.acceptor.name !== data.dialer.name, {
        path: ['dialer', 'name'],
        error: 'acceptor and dialer must be different clusters',
      }),
    ),
);

export const PeeringAcceptorReadySchema = envelope(
  'peering.acceptor-ready',
  "The acceptor's peering token is stored in `tokenSecret` at `tokenVersion`. Emitted by accept-peering, and again (delayed, attempt + 1) by dial-peering while it waits. Consumed by dial-peering.",
  z.strictObject({
    acceptor: ClusterRefSchema,
    dialer: ClusterRefSchema,
    tokenSecret: SecretNameSchema.check(z.describe('The secret holding the peering token, by name.')),
    tokenVersion: z.string().check(
      z.regex(/^[A-Za-z0-9-]{1,64}$/, {
        error: "must be a secret version id: 1-64 letters, digits or '-'",
      }),
      z.describe('The version of tokenSecret that holds this token.'),
    ),
    // Consul's peering IDs are random 128-bit values in UUID form without RFC 9562 version bits,
    // so a strict UUID check would reject real ones.
    peeringId: z.guid({ error: 'must be a UUID-formatted id' }),
    attempt: nonNegativeInt,
    regenerations: nonNegativeInt,
  }),
);

export const PeeringEstablishedSchema = envelope(
  'peering.established',
  'The peering is ACTIVE on both sides. Emitted by dial-peering; for people and tools (notifications, audit).',
  z.strictObject({
    acceptor: ClusterRefSchema,
    dialer: ClusterRefSchema,
    peeringId: z.guid({ error: 'must be a UUID-formatted id' }),
    acceptorState: z.string().check(z.minLength(1), z.maxLength(64)),
    dialerState: z.string().check(z.minLength(1), z.maxLength(64)),
  }),
);

export const PeeringFailedSchema = envelope(
  'peering.failed',
  'The peering cannot complete without a person: `reason` is a short code, `message` says what to do. Emitted by dial-peering when it gives up (the record also goes to the DLQ); for people and tools.',
  z.strictObject({
    acceptor: ClusterRefSchema,
    dialer: ClusterRefSchema,
    reason: z.string().check(
      z.regex(/^[a-z0-9]+([.-][a-z0-9]+)*$/, {
        error: "must be a short code of lowercase words joined by '-' or '.', e.g. token-rejected",
      }),
      z.maxLength(64),
    ),
    message: z
      .string()
      .check(z.minLength(1), z.maxLength(2000), z.describe('What a person should do about it.')),
  }),
);

/** The schema of every event type, by type. The order is the order of a peering's life. */
export const eventSchemas = {
  'cluster.registered': ClusterRegisteredSchema,
  'peering.requested': PeeringRequestedSchema,
  'peering.acceptor-ready': PeeringAcceptorReadySchema,
  'peering.established': PeeringEstablishedSchema,
  'peering.failed': PeeringFailedSchema,
} as const;

export type EventType = keyof typeof eventSchemas;
export const EVENT_TYPES = Object.keys(eventSchemas) as readonly EventType[];

/** An event of one type, as parsed (defaults applied). */
export type EventOf<T extends EventType> = z.infer<(typeof eventSchemas)[T]>;
/** What a producer must supply as `data` (defaulted fields may be left out). */
export type EventDataInput<T extends EventType> = z.input<(typeof eventSchemas)[T]>['data'];
export type EventData<T extends EventType> = EventOf<T>['data'];
export type PipelineEvent = { [T in EventType]: EventOf<T> }[EventType];

export type ClusterRegisteredEvent = EventOf<'cluster.registered'>;
export type PeeringRequestedEvent = EventOf<'peering.requested'>;
export type PeeringAcceptorReadyEvent = EventOf<'peering.acceptor-ready'>;
export type PeeringEstablishedEvent = EventOf<'peering.established'>;
export type PeeringFailedEvent = EventOf<'peering.failed'>;

export const isEventType = (value: unknown): value is EventType =>
  typeof value === 'string' && Object.hasOwn(eventSchemas, value);

export const isEventOf = <T extends EventType>(event: PipelineEvent, type: T): event is EventOf<T> =>
  event.type === type;
