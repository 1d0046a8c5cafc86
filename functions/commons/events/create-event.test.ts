import { ValidationError } from '../errors';
import { createEvent } from './create-event';
import { parseEvent } from './parse-event';

const cluster = { name: 'us-east-1-prod', connectionSecret: 'consul-peering/clusters/us-east-1-prod' };
const gateway = { lan: { address: '10.0.0.5', port: 8443 }, wan: { address: 'mgw.example.com', port: 443 } };

describe('createEvent', () => {
  it('fills in the envelope: version, a random UUID id and the current time', () => {
    const before = Date.now();
    const event = createEvent('cluster.registered', { cluster }, { correlationId: 'corr-1' });
    expect(event).toMatchObject({
      type: 'cluster.registered',
      version: 1,
      correlationId: 'corr-1',
      data: { cluster },
    });
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before);
    expect(createEvent('cluster.registered', { cluster }, { correlationId: 'corr-1' }).id).not.toBe(event.id);
  });

  it('uses the id and time it is given', () => {
    const id = '3b8f2d4e-6a1c-4f7e-9b2d-8c5e1a7f0d36';
    const at = createEvent('cluster.registered', { cluster }, { correlationId: 'c', id, time: new Date(0) });
    expect(at).toMatchObject({ id, time: '1970-01-01T00:00:00.000Z' });
    const given = createEvent(
      'cluster.registered',
      { cluster },
      { correlationId: 'c', time: '2025-06-02T09:00:00+02:00' },
    );
    expect(given.time).toBe('2025-06-02T09:00:00+02:00');
  });

  it('applies defaults, as a consumer would see them', () => {
    const event = createEvent('cluster.registered', { cluster, gateway }, { correlationId: 'c' });
    expect(event.data.gateway?.serviceName).toBe('mesh-gateway');
    expect(parseEvent(JSON.stringify(event))).toEqual(event);
  });

  it('validates the data, naming the field', () => {
    const make = () =>
      createEvent(
        'peering.acceptor-ready',
        {
          acceptor: cluster,
          dialer: { name: 'eu-west-1-prod', connectionSecret: 'consul-peering/clusters/eu-west-1-prod' },
          tokenSecret: 'consul-peering/peering-tokens/us-east-1-prod/eu-west-1-prod',
          tokenVersion: 'v1',
          peeringId: 'not-a-uuid',
          attempt: 0,
          regenerations: 0,
        },
        { correlationId: 'c' },
      );
    expect(make).toThrow(ValidationError);
    expect(make).toThrow('data.peeringId: must be a UUID-formatted id');
  });

  it('validates the envelope options', () => {
    expect(() => createEvent('cluster.registered', { cluster }, { correlationId: 'has spaces' })).toThrow(
      "correlationId: must be 1-128 characters of letters, digits and '._:-'",
    );
    expect(() =>
      createEvent('cluster.registered', { cluster }, { correlationId: 'c', time: new Date(NaN) }),
    ).toThrow('time: must be an ISO 8601 date-time');
  });

  it('refuses to build the same cluster as acceptor and dialer', () => {
    const error = (() => {
      try {
        createEvent('peering.requested', { acceptor: cluster, dialer: cluster }, { correlationId: 'c' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      field: 'data.dialer.name',
      message: 'data.dialer.name: acceptor and dialer must be different clusters',
    });
  });
});
