import { ValidationError } from '../errors';
import { MAX_EVENT_BYTES, parseEvent, parseEventOfType } from './parse-event';

const acceptor = { name: 'us-east-1-prod', connectionSecret: 'consul-peering/clusters/us-east-1-prod' };
const dialer = { name: 'eu-west-1-prod', connectionSecret: 'consul-peering/clusters/eu-west-1-prod' };

const requested = (
  data: Record<string, unknown> = { acceptor, dialer },
  envelope: Record<string, unknown> = {},
) => ({
  type: 'peering.requested',
  version: 1,
  id: '9d41c7a2-0b3e-4e58-8f6a-1d27b9c3e4f5',
  time: '2025-06-02T09:14:07.552Z',
  correlationId: 'peerctl:7f3a9c2e',
  data,
  ...envelope,
});

/** The ValidationError a body is rejected with. */
function rejection(body: string, parse: (body: string) => unknown = parseEvent): ValidationError {
  try {
    parse(body);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('expected a ValidationError, but the body was accepted');
}

const rejectionOf = (value: unknown) => rejection(JSON.stringify(value));

describe('parseEvent', () => {
  it('returns the typed event, with defaults applied', () => {
    const event = parseEvent(
      JSON.stringify({
        ...requested(),
        type: 'cluster.registered',
        data: {
          cluster: acceptor,
          gateway: {
            lan: { address: '10.0.0.5', port: 8443 },
            wan: { address: 'mgw.example.com', port: 443 },
          },
        },
      }),
    );
    expect(event.type).toBe('cluster.registered');
    if (event.type !== 'cluster.registered') return;
    expect(event.data.gateway?.serviceName).toBe('mesh-gateway');
  });

  it('rejects a missing field, naming its dotted path', () => {
    const error = rejectionOf(requested({ acceptor: { name: 'us-east-1-prod' }, dialer }));
    expect(error.field).toBe('data.acceptor.connectionSecret');
    expect(error.message).toBe('data.acceptor.connectionSecret is required (expected string)');
    expect(error.reason).toBe('validation');
    expect(error.retryable).toBe(false);
  });

  it('rejects a field of the wrong type', () => {
    const error = rejectionOf(requested({ acceptor, dialer, regenerations: '2' }));
    expect(error.field).toBe('data.regenerations');
    expect(error.message).toBe('data.regenerations: expected number, received string');
  });

  it('rejects a cluster name that is not a DNS label, saying what a name must be', () => {
    const error = rejectionOf(requested({ acceptor: { ...acceptor, name: 'US_East' }, dialer }));
    expect(error.field).toBe('data.acceptor.name');
    expect(error.message).toMatch(/^data\.acceptor\.name: must be a DNS label/);
  });

  it('rejects an unknown type, listing the known ones', () => {
    const error = rejectionOf(requested(undefined, { type: 'peering.deleted' }));
    expect(error.field).toBe('type');
    expect(error.message).toBe(
      'type: unknown event type "peering.deleted"; known types: cluster.registered, peering.requested, ' +
        'peering.acceptor-ready, peering.established, peering.failed',
    );
  });

  it('rejects a missing type', () => {
    const untyped: Record<string, unknown> = requested();
    delete untyped.type;
    const error = rejectionOf(untyped);
    expect(error.field).toBe('type');
    expect(error.message).toMatch(/^type is required \(one of: cluster\.registered, /);
  });

  it('rejects an unsupported version', () => {
    const error = rejectionOf(requested(undefined, { version: 2 }));
    expect(error.field).toBe('version');
    expect(error.message).toBe(
      'version: unsupported version 2 of peering.requested; this code reads version 1',
    );
  });

  it('rejects an unknown top-level key', () => {
    const error = rejectionOf(requested(undefined, { correlationID: 'typo' }));
    expect(error.field).toBe('correlationID');
    expect(error.message).toBe(
      '"correlationID" is not a known field; fields are strict, so check the spelling',
    );
  });

  it('rejects an unknown nested key', () => {
    const error = rejectionOf(requested({ acceptor: { ...acceptor, token: 'not-here' }, dialer }));
    expect(error.field).toBe('data.acceptor.token');
    expect(error.message).toMatch(/^"data\.acceptor\.token" is not a known field/);
  });

  it('rejects the same cluster as acceptor and dialer', () => {
    const error = rejectionOf(requested({ acceptor, dialer: acceptor }));
    expect(error.field).toBe('data.dialer.name');
    expect(error.message).toBe('data.dialer.name: acceptor and dialer must be different clusters');
  });

  it('rejects more than 100 exported services', () => {
    const exportServices = Array.from({ length: 101 }, (_, i) => `svc-${i}`);
    const error = rejectionOf(requested({ acceptor, dialer, exportServices }));
    expect(error.field).toBe('data.exportServices');
    expect(error.message).toBe('data.exportServices: Too big: expected array to have <=100 items');
  });

  it('rejects a gateway address with a scheme or a port', () => {
    for (const address of ['https://mgw.example.com', 'mgw.example.com:8443']) {
      const error = rejectionOf({
        ...requested(),
        type: 'cluster.registered',
        data: {
          cluster: acceptor,
          gateway: { lan: { address, port: 8443 }, wan: { address: '203.0.113.7', port: 443 } },
        },
      });
      expect(error.field).toBe('data.gateway.lan.address');
      expect(error.message).toBe(
        'data.gateway.lan.address: must be a hostname or an IP address, without scheme or port',
      );
    }
  });

  it('rejects an oversized body before parsing it, saying the size and the limit', () => {
    const body = `{"pad":"${'x'.repeat(MAX_EVENT_BYTES)}`; // not even JSON: the size check comes first
    const error = rejection(body);
    expect(error.field).toBeUndefined();
    expect(error.message).toBe(
      `event body is ${MAX_EVENT_BYTES + 8} bytes; the limit is 16384 bytes (16 KiB)`,
    );
  });

  it('accepts a body of exactly the limit', () => {
    const json = JSON.stringify(requested());
    const body = json + ' '.repeat(MAX_EVENT_BYTES - json.length);
    expect(parseEvent(body).type).toBe('peering.requested');
  });

  it('counts bytes, not characters', () => {
    const body = JSON.stringify(requested(undefined, { pad: 'é'.repeat(MAX_EVENT_BYTES / 2) }));
    expect(body.length).toBeLessThan(MAX_EVENT_BYTES);
    expect(rejection(body).message).toMatch(/^event body is \d+ bytes; the limit is 16384 bytes/);
  });

  it('rejects invalid JSON without quoting it', () => {
    const error = rejection(`{"type": "peering.requested", secret-looking-${'y'.repeat(100)}`);
    expect(error.field).toBeUndefined();
    expect(error.message).toBe('event body is not valid JSON (at position 30)');
  });

  it('rejects JSON that is not an object', () => {
    expect(rejection('[1,2]').message).toBe('event body must be a JSON object, got an array');
    expect(rejection('null').message).toBe('event body must be a JSON object, got null');
    expect(rejection('"peering.requested"').message).toBe(
      'event body must be a JSON object, got "peering.requested"',
    );
  });

  it('truncates any value it echoes', () => {
    const error = rejectionOf(requested(undefined, { type: `peering.${'z'.repeat(500)}` }));
    expect(error.message).toMatch(/^type: unknown event type "peering\.z{30}…; known types/);
    expect(error.message.length).toBeLessThan(200);
  });

  it('accepts a Consul peering ID, which has no UUID version bits', () => {
    const event = parseEvent(
      JSON.stringify({
        ...requested(),
        type: 'peering.established',
        data: {
          acceptor,
          dialer,
          peeringId: '4e9d1b7a-2c08-f3e6-a15d-8b0c6e2f9a47',
          acceptorState: 'ACTIVE',
          dialerState: 'ACTIVE',
        },
      }),
    );
    expect(event.type).toBe('peering.established');
  });
});

describe('parseEventOfType', () => {
  it('narrows to the expected type', () => {
    const event = parseEventOfType(JSON.stringify(requested()), 'peering.requested');
    expect(event.data.dialer.name).toBe('eu-west-1-prod');
  });

  it('rejects another type before looking at its shape', () => {
    const error = rejection(JSON.stringify(requested({})), (body) =>
      parseEventOfType(body, 'peering.acceptor-ready'),
    );
    expect(error.field).toBe('type');
    expect(error.message).toBe('type: expected a peering.acceptor-ready event, got peering.requested');
  });
});
