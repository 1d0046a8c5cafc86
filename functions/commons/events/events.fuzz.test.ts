import fc from 'fast-check';
import { ValidationError } from '../errors';
import { createEvent } from './create-event';
import { parseEvent } from './parse-event';
import { EVENT_TYPES, type EventDataInput, type EventType } from './schemas';

const clusterName = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);
const secretName = fc.stringMatching(/^[A-Za-z0-9/_+=.@-]{1,512}$/);
const clusterRef = fc.record({ name: clusterName, connectionSecret: secretName });
const pair = fc
  .tuple(clusterRef, clusterRef)
  .filter(([a, d]) => a.name !== d.name)
  .map(([acceptor, dialer]) => ({ acceptor, dialer }));
const hostPort = fc.record({
  address: fc.oneof(
    fc.domain(),
    fc.ipV4(),
    fc.ipV6().filter((ip) => !ip.includes('.')),
  ),
  port: fc.integer({ min: 1, max: 65535 }),
});
const serviceName = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/);
const count = fc.nat({ max: 1000 });

const dataOf: { [T in EventType]: fc.Arbitrary<EventDataInput<T>> } = {
  'cluster.registered': fc.record(
    {
      cluster: clusterRef,
      gateway: fc.record({ serviceName, lan: hostPort, wan: hostPort }, { requiredKeys: ['lan', 'wan'] }),
    },
    { requiredKeys: ['cluster'] },
  ),
  'peering.requested': fc
    .tuple(
      pair,
      fc.record(
        {
          regenerateToken: fc.boolean(),
          regenerations: count,
          exportServices: fc.array(serviceName, { maxLength: 100 }),
        },
        { requiredKeys: [] },
      ),
    )
    .map(([clusters, rest]) => ({ ...clusters, ...rest })),
  'peering.acceptor-ready': fc
    .tuple(
      pair,
      fc.record({
        tokenSecret: secretName,
        tokenVersion: fc.stringMatching(/^[A-Za-z0-9-]{1,64}$/),
        peeringId: fc.uuid(),
        attempt: count,
        regenerations: count,
      }),
    )
    .map(([clusters, rest]) => ({ ...clusters, ...rest })),
  'peering.established': fc
    .tuple(
      pair,
      fc.record({
        peeringId: fc.uuid(),
        acceptorState: fc.string({ minLength: 1, maxLength: 64 }),
        dialerState: fc.string({ minLength: 1, maxLength: 64 }),
      }),
    )
    .map(([clusters, rest]) => ({ ...clusters, ...rest })),
  'peering.failed': fc
    .tuple(
      pair,
      fc.record({
        reason: fc.stringMatching(/^[a-z0-9]+([.-][a-z0-9]+)*$/).filter((r) => r.length <= 64),
        message: fc.string({ minLength: 1, maxLength: 2000, unit: 'binary' }),
      }),
    )
    .map(([clusters, rest]) => ({ ...clusters, ...rest })),
};

const options = fc.record({
  correlationId: fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/),
  id: fc.uuid({ version: 4 }),
  time: fc.date({
    min: new Date('2000-01-01T00:00:00Z'),
    max: new Date('2100-01-01T00:00:00Z'),
    noInvalidDate: true,
  }),
});

const validEvent = fc
  .constantFrom(...EVENT_TYPES)
  .chain((type) =>
    fc
      .tuple(dataOf[type] as fc.Arbitrary<EventDataInput<EventType>>, options)
      .map(([data, opts]) => createEvent(type, data, opts)),
  );

/** parseEvent's whole contract for bad input: a ValidationError, or nothing. */
function parsesOrRejects(body: string): void {
  try {
    parseEvent(body);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    expect(error.message.length).toBeLessThan(400);
  }
}

describe('parseEvent, fuzzed', () => {
  it('throws nothing but ValidationError for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), parsesOrRejects), {
      numRuns: 2000,
    });
  });

  it('throws nothing but ValidationError for arbitrary JSON', () => {
    fc.assert(fc.property(fc.json({ maxDepth: 6 }), parsesOrRejects), { numRuns: 2000 });
  });

  it('throws nothing but ValidationError for envelopes of a known type with arbitrary fields', () => {
    const envelope = fc.record(
      {
        type: fc.constantFrom(...EVENT_TYPES),
        version: fc.oneof(fc.constant(1), fc.jsonValue()),
        id: fc.oneof(fc.uuid(), fc.string()),
        time: fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          fc.string(),
        ),
        correlationId: fc.string(),
        data: fc.jsonValue(),
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(envelope, (value) => {
        parsesOrRejects(JSON.stringify(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('throws nothing but ValidationError when one field of a valid event is replaced by arbitrary JSON', () => {
    const mutated = fc.tuple(validEvent, fc.jsonValue(), fc.nat()).map(([event, value, pick]) => {
      const json = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
      const data = json.data as Record<string, unknown>;
      const keys = Object.keys(data);
      data[keys[pick % keys.length] ?? 'x'] = value;
      return JSON.stringify(json);
    });
    fc.assert(fc.property(mutated, parsesOrRejects), { numRuns: 1000 });
  });

  it('round-trips every valid event: createEvent → JSON → parseEvent', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        expect(parseEvent(JSON.stringify(event))).toEqual(event);
      }),
      { numRuns: 1000 },
    );
  });
});

/** The ValidationError parseEvent (or createEvent) raised, or a failure saying it accepted the input. */
function rejection(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('the input was accepted; it should have been rejected');
}

type JsonKind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';
const kindOf = (value: unknown): JsonKind =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : (typeof value as JsonKind);
const valueOfKind: Record<JsonKind, fc.Arbitrary<unknown>> = {
  string: fc.string(),
  number: fc.double({ noNaN: true, noDefaultInfinity: true }),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(fc.jsonValue(), { maxLength: 3 }),
  object: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
};

const asJson = (event: unknown) => JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
const dataOfEvent = (json: Record<string, unknown>) => json.data as Record<string, unknown>;

// "Returns or throws" alone would pass for a parser that accepts everything: these say what IS rejected.
describe('parseEvent rejects', () => {
  it('every body that is not a JSON object of a known event type', () => {
    const notAnEvent = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 500 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record({ type: fc.string().filter((t) => !(EVENT_TYPES as readonly string[]).includes(t)) })
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(notAnEvent, (body) => {
        expect(rejection(() => parseEvent(body))).toBeInstanceOf(ValidationError);
      }),
      { numRuns: 1000 },
    );
  });

  it('a cluster name that is not a DNS label, naming the field', () => {
    const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
    const invalidName = fc
      .oneof(
        fc.string({ maxLength: 70 }),
        clusterName.map((n) => n.toUpperCase()),
        clusterName.map((n) => `-${n}`),
        clusterName.map((n) => `${n}-`),
        clusterName.map((n) => `${n}_x`),
        clusterName.map((n) => `${n}.internal`),
        fc.constant('a'.repeat(64)),
        fc.constant(''),
      )
      .filter((n) => !dnsLabel.test(n));
    fc.assert(
      fc.property(validEvent, invalidName, (event, name) => {
        const json = asJson(event);
        const data = dataOfEvent(json);
        const side = 'cluster' in data ? 'cluster' : 'acceptor';
        (data[side] as { name: string }).name = name;
        const error = rejection(() => parseEvent(JSON.stringify(json)));
        expect(error.field).toBe(`data.${side}.name`);
        expect(error.message).toContain('must be a DNS label');
      }),
      { numRuns: 1000 },
    );
  });

  it('a peering request of a cluster with itself', () => {
    const twoSided = validEvent.filter((event) => event.type === 'peering.requested');
    fc.assert(
      fc.property(twoSided, (event) => {
        const json = asJson(event);
        const data = dataOfEvent(json);
        (data.dialer as { name: string }).name = (data.acceptor as { name: string }).name;
        const error = rejection(() => parseEvent(JSON.stringify(json)));
        expect(error.field).toBe('data.dialer.name');
        expect(error.message).toContain('acceptor and dialer must be different clusters');
      }),
      { numRuns: 300 },
    );
  });

  it('an event without one of its envelope fields, naming it', () => {
    const envelopeKey = fc.constantFrom('version', 'id', 'time', 'correlationId', 'data');
    fc.assert(
      fc.property(validEvent, envelopeKey, (event, key) => {
        const json = Object.fromEntries(Object.entries(asJson(event)).filter(([k]) => k !== key));
        const error = rejection(() => parseEvent(JSON.stringify(json)));
        expect(error.field).toBe(key);
        expect(error.message).toMatch(new RegExp(`^${key} is required`));
      }),
      { numRuns: 300 },
    );
  });

  it('a field of the data replaced by a value of another JSON type, naming the field', () => {
    const retyped = fc
      .tuple(validEvent, fc.nat())
      .map(([event, pick]) => {
        const json = asJson(event);
        const keys = Object.keys(dataOfEvent(json));
        return { json, key: keys[pick % keys.length] ?? 'acceptor' };
      })
      .chain(({ json, key }) => {
        const original = kindOf(dataOfEvent(json)[key]);
        const others = (Object.keys(valueOfKind) as JsonKind[]).filter((k) => k !== original);
        return fc
          .constantFrom(...others)
          .chain((kind) => valueOfKind[kind])
          .map((value) => ({ json, key, value }));
      });
    fc.assert(
      fc.property(retyped, ({ json, key, value }) => {
        dataOfEvent(json)[key] = value;
        const error = rejection(() => parseEvent(JSON.stringify(json)));
        expect(error.field?.startsWith(`data.${key}`)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('an unknown field in the data (objects are strict), naming it', () => {
    const unknownKey = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,20}$/);
    fc.assert(
      fc.property(validEvent, unknownKey, fc.jsonValue(), (event, key, value) => {
        const json = asJson(event);
        const data = dataOfEvent(json);
        fc.pre(!(key in data));
        data[key] = value;
        const error = rejection(() => parseEvent(JSON.stringify(json)));
        expect(error.field).toBe(`data.${key}`);
        expect(error.message).toContain('is not a known field');
      }),
      { numRuns: 500 },
    );
  });

  it('the same invalid data when an event is created, not only when it is parsed', () => {
    fc.assert(
      fc.property(clusterRef, (ref) => {
        const error = rejection(() =>
          createEvent('peering.requested', { acceptor: ref, dialer: ref }, { correlationId: 'c' }),
        );
        expect(error.field).toBe('data.dialer.name');
      }),
      { numRuns: 200 },
    );
  });
});
