import type { SecretStore } from '#commons/ports/secret-store';
import { slackSigningSecretLoader } from './signing-secret';

function store(values: (string | undefined | Error)[]) {
  const get = jest.fn(() => {
    const next = values.shift();
    if (next instanceof Error) return Promise.reject(next);
    return Promise.resolve(next === undefined ? undefined : { name: 's', versionId: 'v1', value: next });
  });
  return { secrets: { get } as unknown as SecretStore, get };
}

test('read once, then kept (once per cold start)', async () => {
  const { secrets, get } = store(['  the-secret\n']);
  const load = slackSigningSecretLoader(secrets, 'consul-peering/slack/signing-secret');
  await expect(Promise.all([load(), load()])).resolves.toEqual(['the-secret', 'the-secret']);
  await expect(load()).resolves.toBe('the-secret');
  expect(get).toHaveBeenCalledTimes(1);
});

test('a failed or empty read is not kept: the next request tries again', async () => {
  const { secrets, get } = store([new Error('throttled'), '', undefined, 'finally']);
  const load = slackSigningSecretLoader(secrets, 'name');
  await expect(load()).rejects.toThrow('throttled');
  await expect(load()).rejects.toThrow(/'name' is missing or empty/);
  await expect(load()).rejects.toThrow(/missing or empty/);
  await expect(load()).resolves.toBe('finally');
  expect(get).toHaveBeenCalledTimes(4);
});
