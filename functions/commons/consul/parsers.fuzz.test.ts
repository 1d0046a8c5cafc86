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
