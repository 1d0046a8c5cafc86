import { sameKmsKey, secretKeyFindings } from './secret-keys';

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('secretKeyFindings', () => {
  it('reports each service secret not under the wanted key, naming the cluster or the pair', () => {
    const listed = [
      { name: 'p/clusters/dc1', tags: {} },
      { name: 'p/gateway-tokens/dc1', tags: {}, kmsKeyId: KEY },
      { name: 'p/gateway-tokens/dc2', tags: {}, kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/other' },
      { name: 'p/peering-tokens/dc1/dc2', tags: {} },
      { name: 'p/slack-responses/r1', tags: {} },
      { name: 'p/slack/signing-secret', tags: {} },
      { name: 'p/clusters/dc1/extra', tags: {} },
    ];
    const findings = secretKeyFindings('p', listed, KEY);
    expect(findings.map((f) => [f.cluster, f.peer])).toEqual([
      ['dc1', undefined],
      ['dc2', undefined],
      ['dc1', 'dc2'],
    ]);
    expect(findings[0]?.detail).toBe(
      `the secret p/clusters/dc1 is encrypted with the AWS managed key aws/secretsmanager, not with ${KEY}`,
    );
    expect(findings.every((f) => f.remedy.startsWith('needs a person: '))).toBe(true);
  });

  it('checks nothing when no key is configured (the local file store)', () => {
    expect(secretKeyFindings('p', [{ name: 'p/clusters/dc1', tags: {} }], undefined)).toEqual([]);
  });

  it('matches a key ARN with its bare id, and never an absent key', () => {
    expect(sameKmsKey(KEY, '1234abcd-12ab-34cd-56ef-1234567890ab')).toBe(true);
    expect(sameKmsKey('1234abcd-12ab-34cd-56ef-1234567890ab', KEY)).toBe(true);
    expect(sameKmsKey(undefined, KEY)).toBe(false);
    expect(sameKmsKey('alias/aws/secretsmanager', KEY)).toBe(false);
  });
});
