import fc from 'fast-check';

import {
  decodeAclPolicy,
  decodeAclToken,
  decodeCaRoots,
  decodeHealthService,
  decodePeering,
  decodePeeringList,
  decodeRawConfigEntry,
} from './decoders';
import { ConsulError } from '#commons/ports/consul-error';
import { ShapeError } from './decoders';
import { redactor } from '../observability/redact';
import { errorFromResponse } from './response-errors';

// Everything that reads Consul's answers takes outside input: whatever arrives, it must either
// return a value or fail with its own typed error, never a TypeError from a wrong assumption.

const decoders = {
  decodePeering,
  decodePeeringList,
  decodeRawConfigEntry,
  decodeHealthService,
  decodeAclPolicy,
  decodeAclToken,
  decodeCaRoots,
};

// Peering-like objects reach deeper than uniformly random JSON would.
const peeringLike = fc.record(
  {
    ID: fc.oneof(fc.string(), fc.constant(null)),
    Name: fc.oneof(fc.string(), fc.integer()),
    State: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
    StreamStatus: fc.oneof(fc.jsonValue(), fc.record({ ImportedServices: fc.jsonValue() })),
    Remote: fc.jsonValue(),
    Meta: fc.jsonValue(),
    ImportedServiceCount: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe.each(Object.entries(decoders))('%s', (_name, decode) => {
  it('returns or throws ShapeError for any JSON', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), peeringLike, fc.array(peeringLike)), (json) => {
        try {
          decode(json);
        } catch (error) {
          expect(error).toBeInstanceOf(ShapeError);
        }
      }),
    );
  });
});

// ...and "returns or throws" alone would pass for a decoder that accepts anything: each decoder must
// reject what cannot be the answer it decodes, naming what is wrong.
const notAnObject = fc.oneof(
  fc.string(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
);
/** An object whose `key` is missing or not a string (any other keys arbitrary). */
const withoutString = (key: string, rest: Record<string, fc.Arbitrary<unknown>> = {}) =>
  fc
    .tuple(
      fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
      fc.record(rest),
      fc.option(fc.oneof(fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object()), {
        nil: undefined,
      }),
    )
    .map(([noise, fields, value]) => {
      const object = Object.fromEntries(Object.entries({ ...noise, ...fields }).filter(([k]) => k !== key));
      return value === undefined ? object : { ...object, [key]: value };
    });

/** True when `decode` rejected `json` with a ShapeError matching `message` (fails the property otherwise). */
function rejects(decode: (json: unknown) => unknown, json: unknown, message: RegExp): boolean {
  let thrown: unknown;
  try {
    decode(json);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ShapeError);
  expect((thrown as ShapeError).message).toMatch(message);
  return true;
}

describe('decoders reject what is not their answer', () => {
  it.each([
    ['decodePeering', decodePeering, /^peering is not a JSON object/],
    ['decodeRawConfigEntry', decodeRawConfigEntry, /^config entry is not a JSON object/],
    ['decodeAclPolicy', decodeAclPolicy, /^ACL policy is not a JSON object/],
    ['decodeAclToken', decodeAclToken, /^ACL token is not a JSON object/],
    ['decodeCaRoots', decodeCaRoots, /^CA roots is not a JSON object/],
  ] as const)('%s: anything but an object', (_name, decode, message) => {
    fc.assert(fc.property(notAnObject, (json) => rejects(decode, json, message)));
  });

  it.each([
    ['decodePeeringList', decodePeeringList, /^peering list is not a JSON array/],
    ['decodeHealthService', decodeHealthService, /^health service list is not a JSON array/],
  ] as const)('%s: anything but a list (or null)', (_name, decode, message) => {
    const notAList = fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.object());
    fc.assert(fc.property(notAList, (json) => rejects(decode, json, message)));
  });

  it('decodePeering: a peering without a string ID or Name', () => {
    fc.assert(
      fc.property(withoutString('ID', { Name: fc.string() }), (json) =>
        rejects(decodePeering, json, /^peering\.ID is missing or not a string/),
      ),
    );
    fc.assert(
      fc.property(withoutString('Name', { ID: fc.string() }), (json) =>
        rejects(decodePeering, json, /^peering\.Name is missing or not a string/),
      ),
    );
  });

  it('decodePeeringList: a list holding anything but peerings', () => {
    fc.assert(
      fc.property(fc.array(notAnObject, { minLength: 1, maxLength: 3 }), (items) =>
        rejects(decodePeeringList, items, /^peering is not a JSON object/),
      ),
    );
  });

  it('decodeRawConfigEntry: an entry without a string Kind, or without a numeric ModifyIndex', () => {
    fc.assert(
      fc.property(withoutString('Kind', { ModifyIndex: fc.nat() }), (json) =>
        rejects(decodeRawConfigEntry, json, /^config entry\.Kind is missing or not a string/),
      ),
    );
    const noIndex = fc
      .tuple(
        fc.string(),
        fc.option(fc.oneof(fc.string(), fc.boolean(), fc.constant(null)), { nil: undefined }),
      )
      .map(([Kind, ModifyIndex]) => (ModifyIndex === undefined ? { Kind } : { Kind, ModifyIndex }));
    fc.assert(
      fc.property(noIndex, (json) =>
        rejects(decodeRawConfigEntry, json, /^config entry\.ModifyIndex is missing/),
      ),
    );
  });

  it('decodeHealthService: entries without a Node or Service object', () => {
    const entry = fc.oneof(
      fc.record({ Node: notAnObject, Service: fc.object() }),
      fc.record({ Node: fc.object(), Service: notAnObject }),
    );
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 3 }), (entries) =>
        rejects(decodeHealthService, entries, /^health entry\.(Node|Service) is not a JSON object/),
      ),
    );
  });

  it('decodeAclPolicy and decodeAclToken: objects without their identifiers', () => {
    fc.assert(
      fc.property(withoutString('ID', { Name: fc.string() }), (json) =>
        rejects(decodeAclPolicy, json, /^ACL policy\.ID is missing or not a string/),
      ),
    );
    fc.assert(
      fc.property(withoutString('AccessorID'), (json) =>
        rejects(decodeAclToken, json, /^ACL token\.AccessorID is missing or not a string/),
      ),
    );
  });
});

describe('errorFromResponse', () => {
  it('classifies any status and body into a ConsulError without throwing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 300, max: 599 }), fc.string({ maxLength: 2_000 }), (status, body) => {
        const error = errorFromResponse({ method: 'GET', path: '/v1/x' }, status, body);
        expect(error).toBeInstanceOf(ConsulError);
        expect(typeof error.reason).toBe('string');
        expect(error.message).toContain('GET /v1/x');
      }),
    );
  });

  it('never quotes a redacted token back, wherever it sat in the body', () => {
    const token = fc.uuid();
    fc.assert(
      fc.property(
        token,
        fc.string(),
        fc.string(),
        fc.integer({ min: 400, max: 599 }),
        (secret, before, after, status) => {
          const body = redactor([secret])(`${before}${secret}${after}`);
          expect(
            errorFromResponse({ method: 'PUT', path: '/v1/config' }, status, body).message,
          ).not.toContain(secret);
        },
      ),
    );
  });
});
