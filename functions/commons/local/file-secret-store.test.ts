import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError } from '#commons/errors';
import { defaultSecretFilePath, FileSecretStore } from './file-secret-store';

let root: string;
let path: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'file-secret-store-'));
  path = join(root, 'state', 'consul-peering-automation', 'secrets.json');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (target: string): Promise<number> => (await stat(target)).mode & 0o777;

test('the default path is under XDG_STATE_HOME, else ~/.local/state', () => {
  expect(defaultSecretFilePath({ XDG_STATE_HOME: '/state' })).toBe(
    '/state/consul-peering-automation/secrets.json',
  );
  expect(defaultSecretFilePath({})).toMatch(/\/\.local\/state\/consul-peering-automation\/secrets\.json$/);
});

test('creates the file 0600 in a 0700 directory', async () => {
  await new FileSecretStore({ path }).put('conn/dc1', 'token');

  expect(await mode(path)).toBe(0o600);
  expect(await mode(join(root, 'state', 'consul-peering-automation'))).toBe(0o700);
});

test('keeps the mode 0600 across rewrites', async () => {
  const store = new FileSecretStore({ path });
  await store.put('conn/dc1', 'one');
  await store.put('conn/dc1', 'two');
  expect(await mode(path)).toBe(0o600);
});

test('replaces the file by rename (a new inode per write) and leaves no temporary files', async () => {
  const store = new FileSecretStore({ path });
  await store.put('conn/dc1', 'one');
  const before = (await stat(path)).ino;
  await store.put('conn/dc1', 'two');

  expect((await stat(path)).ino).not.toBe(before);
  expect(await readdir(join(root, 'state', 'consul-peering-automation'))).toEqual(['secrets.json']);
});

test('concurrent writes in one process lose no update', async () => {
  const store = new FileSecretStore({ path });
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`conn/${i}`, `value-${i}`)));

  expect(await store.list({ namePrefix: 'conn/' })).toHaveLength(20);
  expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ format: 1 });
});

test('versions and staging labels follow Secrets Manager', async () => {
  const store = new FileSecretStore({ path });
  const v1 = await store.put('conn/dc1', 'one');
  const v2 = await store.put('conn/dc1', 'two');
  const v3 = await store.put('conn/dc1', 'three');

  expect([v1.changed, v2.changed, v3.changed]).toEqual([true, true, true]);
  expect(new Set([v1.versionId, v2.versionId, v3.versionId]).size).toBe(3);
  expect(v1.versionId).toMatch(/^[0-9a-f-]{36}$/);
  expect(await store.get('conn/dc1')).toEqual({ name: 'conn/dc1', versionId: v3.versionId, value: 'three' });
  expect(await store.get('conn/dc1', { versionStage: 'AWSCURRENT' })).toMatchObject({ value: 'three' });
  expect(await store.get('conn/dc1', { versionStage: 'AWSPREVIOUS' })).toMatchObject({
    versionId: v2.versionId,
    value: 'two',
  });
  // The first version lost both labels but is still readable by id, as in Secrets Manager.
  expect(await store.get('conn/dc1', { versionId: v1.versionId })).toMatchObject({ value: 'one' });
  expect(
    await store.get('conn/dc1', { versionId: v1.versionId, versionStage: 'AWSCURRENT' }),
  ).toBeUndefined();
  expect(await store.get('conn/dc1', { versionId: 'no-such-version' })).toBeUndefined();
  expect(await store.get('conn/absent')).toBeUndefined();
});

test('the same value again creates no version and does not rewrite the file', async () => {
  const store = new FileSecretStore({ path });
  const first = await store.put('conn/dc1', 'token');
  const inode = (await stat(path)).ino;

  await expect(store.put('conn/dc1', 'token')).resolves.toEqual({
    versionId: first.versionId,
    changed: false,
  });
  expect((await stat(path)).ino).toBe(inode);
  const file = JSON.parse(await readFile(path, 'utf8')) as { secrets: Record<string, { versions: object }> };
  expect(Object.keys(file.secrets['conn/dc1']?.versions ?? {})).toEqual([first.versionId]);
});

test('tags and description are set on creation only', async () => {
  const store = new FileSecretStore({ path });
  await store.put('peering/dc1', 'one', { description: 'token', tags: { owner: 'cpa', cluster: 'dc1' } });
  await store.put('peering/dc1', 'two', { tags: { owner: 'someone-else' } });

  expect(await store.list({ namePrefix: 'peering/' })).toEqual([
    { name: 'peering/dc1', tags: { owner: 'cpa', cluster: 'dc1' } },
  ]);
});

test('lists by name prefix and exact tag pairs, values unread', async () => {
  const store = new FileSecretStore({ path });
  await store.put('peering/b', 'x', { tags: { owner: 'cpa', cluster: 'dc2' } });
  await store.put('peering/a', 'x', { tags: { owner: 'cpa', cluster: 'dc1' } });
  await store.put('peering/c', 'x', { tags: { owner: 'dc1', cluster: 'cpa' } });
  await store.put('other/a', 'x', { tags: { owner: 'cpa', cluster: 'dc1' } });

  expect(await store.list({ namePrefix: 'peering/', tags: { owner: 'cpa', cluster: 'dc1' } })).toEqual([
    { name: 'peering/a', tags: { owner: 'cpa', cluster: 'dc1' } },
  ]);
  expect((await store.list({ namePrefix: 'peering/' })).map((secret) => secret.name)).toEqual([
    'peering/a',
    'peering/b',
    'peering/c',
  ]);
  expect(await store.list({ tags: { owner: 'cpa' } })).toHaveLength(3);
});

test('deletes, and deleting an absent secret is a no-op', async () => {
  const store = new FileSecretStore({ path });
  await store.delete('conn/never');
  await store.put('conn/dc1', 'x');
  await store.delete('conn/dc1', { forceWithoutRecovery: true });

  expect(await store.get('conn/dc1')).toBeUndefined();
  // No recovery window locally: the name can be used again at once.
  await expect(store.put('conn/dc1', 'y')).resolves.toMatchObject({ changed: true });
});

test('a name like __proto__ is an ordinary secret name', async () => {
  const store = new FileSecretStore({ path });
  await store.put('__proto__', 'x');
  expect(await new FileSecretStore({ path }).get('__proto__')).toMatchObject({ value: 'x' });
  expect(await store.list({})).toEqual([{ name: '__proto__', tags: {} }]);
});

test('a corrupt file fails permanently without quoting its content', async () => {
  const store = new FileSecretStore({ path });
  await store.put('conn/dc1', 'x');
  await writeFile(path, '{"format":1,"secrets":{"conn/dc1":{"versions":{"v":{"value":"s3cr3t"');

  const error = (await store.get('conn/dc1').catch((e: unknown) => e)) as PermanentError;
  expect(error).toBeInstanceOf(PermanentError);
  expect(error.message).toBe(`secret file ${path} is not valid JSON`);
  expect(error.message).not.toContain('s3cr3t');
});

test('records creation times from the injected clock', async () => {
  const clock = { now: () => new Date('2026-01-02T03:04:05.000Z') };
  await new FileSecretStore({ path, clock }).put('conn/dc1', 'x');
  expect(await readFile(path, 'utf8')).toContain('"createdAt": "2026-01-02T03:04:05.000Z"');
});
