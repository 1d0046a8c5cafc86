import { REDACTED, redactingReplacer } from './redact';

test('secret-bearing keys and long base64 runs are redacted; names and versions are not', () => {
  const token = Buffer.from(JSON.stringify({ CA: ['x'.repeat(200)], EstablishmentSecret: 'abc' })).toString(
    'base64',
  );
  const line = JSON.stringify(
    {
      token: 'b8f3c1a2-0000-4000-8000-000000000000',
      secretId: 'also-secret',
      nested: { PeeringToken: 'zzz', error: `establish failed with token ${token}` },
      tokenSecret: 'consul-peering/peering-tokens/dc1/dc2',
      tokenVersion: 'v-123',
    },
    redactingReplacer,
  );
  expect(line).not.toContain('b8f3c1a2');
  expect(line).not.toContain('also-secret');
  expect(line).not.toContain(token);
  expect(line).toContain(REDACTED);
  expect(line).toContain('consul-peering/peering-tokens/dc1/dc2');
  expect(line).toContain('v-123');
});
