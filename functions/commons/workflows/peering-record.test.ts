import { MemorySecretStore } from './drift/drift-fakes.test-support';
import { ensurePeeringRecord, readPeeringRecord } from './peering-record';
import { peeringRecordSecretName, TAG_ACCEPTOR, TAG_DIALER, TAG_KIND } from '../naming';

const NAME = peeringRecordSecretName('p', 'dc1', 'dc2');

test('records the wanted peering, tagged so a scan finds the pair without parsing names', async () => {
  const secrets = new MemorySecretStore();
  await expect(
    ensurePeeringRecord(secrets, 'p', {
      acceptor: 'dc1',
      dialer: 'dc2',
      exportServices: ['web', 'api', 'web'],
    }),
  ).resolves.toEqual({ acceptor: 'dc1', dialer: 'dc2', exportServices: ['api', 'web'] });
  expect(secrets.created.get(NAME)?.tags).toEqual({
    [TAG_KIND]: 'peering',
    [TAG_ACCEPTOR]: 'dc1',
    [TAG_DIALER]: 'dc2',
  });
  await expect(readPeeringRecord(secrets, 'p', 'dc1', 'dc2')).resolves.toEqual({
    acceptor: 'dc1',
    dialer: 'dc2',
    exportServices: ['api', 'web'],
  });
});

test('a replay adds no version; a request without exports keeps the recorded ones', async () => {
  const secrets = new MemorySecretStore();
  await ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] });
  await ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] });
  await expect(
    ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: undefined }),
  ).resolves.toMatchObject({ exportServices: ['web'] });
  expect(secrets.writes).toBe(1);
});

test('new exports replace the recorded ones, as a new version', async () => {
  const secrets = new MemorySecretStore();
  await ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'] });
  await ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: [] });
  expect(secrets.writes).toBe(2);
  await expect(readPeeringRecord(secrets, 'p', 'dc1', 'dc2')).resolves.toMatchObject({ exportServices: [] });
});

test('no exports asked and none recorded: none', async () => {
  const secrets = new MemorySecretStore();
  await expect(
    ensurePeeringRecord(secrets, 'p', { acceptor: 'dc1', dialer: 'dc2', exportServices: undefined }),
  ).resolves.toEqual({ acceptor: 'dc1', dialer: 'dc2', exportServices: [] });
});

test('a record that is absent or not in the format reads as absent', async () => {
  const secrets = new MemorySecretStore();
  await expect(readPeeringRecord(secrets, 'p', 'dc1', 'dc2')).resolves.toBeUndefined();
  await secrets.put(NAME, '{"acceptor":"dc1"}');
  await expect(readPeeringRecord(secrets, 'p', 'dc1', 'dc2')).resolves.toBeUndefined();
});
