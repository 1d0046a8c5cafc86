import { ConsulError } from '#commons/ports/consul-error';
import { NotReadyError } from '../errors';
import { ensureExportedServices, withExports } from './ensure-exported-services';
import { memoryConsul } from './memory-consul.test-support';

const KEY = 'exported-services/default';

function consulWith(entry?: Record<string, unknown>) {
  const consul = memoryConsul();
  if (entry !== undefined)
    void consul.writeConfigEntryCas({ Kind: 'exported-services', Name: 'default', ...entry }, 0);
  consul.calls.length = 0;
  return consul;
}

describe('ensureExportedServices', () => {
  test('nothing to export: not even a read', async () => {
    const consul = consulWith();
    await expect(ensureExportedServices(consul, 'dc2', [])).resolves.toEqual({ changed: false });
    expect(consul.calls).toEqual([]);
  });

  test('no entry yet: created (only if still absent) with each service exported to the peer', async () => {
    const consul = consulWith();
    await expect(ensureExportedServices(consul, 'dc2', ['web', 'api'])).resolves.toEqual({ changed: true });
    expect(consul.configEntries.get(KEY)?.entry).toMatchObject({
      Kind: 'exported-services',
      Name: 'default',
      Services: [
        { Name: 'web', Consumers: [{ Peer: 'dc2' }] },
        { Name: 'api', Consumers: [{ Peer: 'dc2' }] },
      ],
    });
  });

  test('other services and other consumers are kept; the peer is added where it is missing', async () => {
    const consul = consulWith({
      Services: [
        { Name: 'web', Namespace: 'default', Consumers: [{ Peer: 'dc3' }] },
        { Name: 'db', Consumers: [{ Partition: 'p1' }] },
      ],
      Meta: { owner: 'ops' },
    });
    await expect(ensureExportedServices(consul, 'dc2', ['web', 'api'])).resolves.toEqual({ changed: true });
    expect(consul.configEntries.get(KEY)?.entry).toMatchObject({
      Meta: { owner: 'ops' },
      Services: [
        { Name: 'web', Namespace: 'default', Consumers: [{ Peer: 'dc3' }, { Peer: 'dc2' }] },
        { Name: 'db', Consumers: [{ Partition: 'p1' }] },
        { Name: 'api', Consumers: [{ Peer: 'dc2' }] },
      ],
    });
  });

  test.each([
    ['Peer', { Peer: 'dc2' }],
    ['PeerName (older Consul)', { PeerName: 'dc2' }],
  ])('a service already exported to the peer (%s) is not written again', async (_case, consumer) => {
    const consul = consulWith({ Services: [{ Name: 'web', Consumers: [consumer] }] });
    await expect(ensureExportedServices(consul, 'dc2', ['web'])).resolves.toEqual({ changed: false });
    expect(consul.writes()).toEqual([]);
  });

  test('writes at the ModifyIndex it read; someone writing in between makes it read and merge again', async () => {
    const consul = consulWith({ Services: [{ Name: 'db', Consumers: [{ Peer: 'dc3' }] }] });
    let raced = false;
    consul.before = (method) => {
      if (method === 'writeConfigEntryCas' && !raced) {
        raced = true;
        const current = consul.configEntries.get(KEY);
        void consul.writeConfigEntryCas(
          {
            Kind: 'exported-services',
            Name: 'default',
            Services: [{ Name: 'cache', Consumers: [{ Peer: 'dc4' }] }],
          },
          current?.modifyIndex ?? 0,
        );
      }
    };
    await expect(ensureExportedServices(consul, 'dc2', ['web'])).resolves.toEqual({ changed: true });
    expect(consul.configEntries.get(KEY)?.entry).toMatchObject({
      Services: [
        { Name: 'cache', Consumers: [{ Peer: 'dc4' }] },
        { Name: 'web', Consumers: [{ Peer: 'dc2' }] },
      ],
    });
  });

  test('an entry that keeps changing: five attempts, then a retryable error', async () => {
    const consul = consulWith();
    let churn = 0;
    consul.before = (method) => {
      if (method !== 'writeConfigEntryCas' || churn++ % 2 === 1) return;
      const current = consul.configEntries.get(KEY);
      void consul.writeConfigEntryCas(
        { Kind: 'exported-services', Name: 'default', Meta: { churn: String(churn) } },
        current?.modifyIndex ?? 0,
      );
    };
    const failure = ensureExportedServices(consul, 'dc2', ['web']);
    await expect(failure).rejects.toBeInstanceOf(NotReadyError);
    await expect(failure).rejects.toThrow(
      'the exported-services entry kept changing under us (5 CAS conflicts)',
    );
    expect(consul.calls.filter((c) => c.startsWith('readConfigEntryRaw'))).toHaveLength(5);
  });

  test('any other failure is passed on at once', async () => {
    const consul = consulWith();
    const unavailable = new ConsulError('unavailable', { method: 'PUT', path: '/v1/config' }, 503, 'x', {
      consulMessage: 'x',
    });
    consul.before = (method) => {
      if (method === 'writeConfigEntryCas') throw unavailable;
    };
    await expect(ensureExportedServices(consul, 'dc2', ['web'])).rejects.toBe(unavailable);
    expect(consul.calls.filter((c) => c.startsWith('writeConfigEntryCas'))).toHaveLength(1);
  });
});

describe('withExports', () => {
  test('drops the raft indexes and keeps unknown fields', () => {
    expect(
      withExports(
        { Kind: 'exported-services', Name: 'default', CreateIndex: 3, ModifyIndex: 9, Future: { x: 1 } },
        'dc2',
        ['web'],
      ),
    ).toEqual({
      Kind: 'exported-services',
      Name: 'default',
      Future: { x: 1 },
      Services: [{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }],
    });
  });

  test('does not change the entry it was given', () => {
    const current = {
      Kind: 'exported-services',
      Name: 'default',
      Services: [{ Name: 'web', Consumers: [] }],
    };
    const before = structuredClone(current);
    withExports(current, 'dc2', ['web']);
    expect(current).toEqual(before);
  });

  test('replaces Services or Consumers that are not lists', () => {
    expect(withExports({ Name: 'default', Services: 'oops' }, 'dc2', ['web'])).toMatchObject({
      Services: [{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }],
    });
    expect(
      withExports({ Name: 'default', Services: [{ Name: 'web', Consumers: 'oops' }] }, 'dc2', ['web']),
    ).toMatchObject({
      Services: [{ Name: 'web', Consumers: [{ Peer: 'dc2' }] }],
    });
  });

  test('nothing to change: undefined, whatever the order of services', () => {
    const current = {
      Name: 'default',
      Services: [
        { Name: 'api', Consumers: [{ Peer: 'dc2' }] },
        { Name: 'web', Consumers: [{ Peer: 'dc3' }, { Peer: 'dc2' }] },
      ],
    };
    expect(withExports(current, 'dc2', ['web', 'api'])).toBeUndefined();
  });
});
