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
