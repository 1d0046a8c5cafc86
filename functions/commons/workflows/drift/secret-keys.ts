import type { SecretSummary } from '../../ports/secret-store';
import { remedyFor, type DriftFinding } from './findings';

/**
 * `secret-not-under-our-key` findings: every secret of the service (the four folders whose names
 * carry a cluster or a pair) that Secrets Manager does not report under `wantedKey`. ListSecrets gives
 * each secret's KmsKeyId (absent for the AWS managed key `aws/secretsmanager`), so no value is read.
 * slack-responses/* live minutes and slack/* is the operator's: neither is checked.
 */
export function secretKeyFindings(
  prefix: string,
  listed: readonly SecretSummary[],
  wantedKey: string | undefined,
): DriftFinding[] {
  if (wantedKey === undefined) return [];
  return listed.flatMap(({ name, kmsKeyId }) => {
    const owner = ownerOf(prefix, name);
    if (owner === undefined || sameKmsKey(kmsKeyId, wantedKey)) return [];
    return [
      {
        kind: 'secret-not-under-our-key' as const,
        ...owner,
        detail: `the secret ${name} is encrypted with ${kmsKeyId ?? 'the AWS managed key aws/secretsmanager'}, not with ${wantedKey}`,
        remedy: remedyFor('secret-not-under-our-key'),
      },
    ];
  });
}

const OWNED_FOLDERS: Record<string, number> = {
  clusters: 1,
  'gateway-tokens': 1,
  peerings: 2,
  'peering-tokens': 2,
};

function ownerOf(prefix: string, name: string): { cluster: string; peer?: string } | undefined {
  if (!name.startsWith(`${prefix}/`)) return undefined;
  const [folder = '', ...rest] = name.slice(prefix.length + 1).split('/');
  const [cluster, peer] = rest;
  if (OWNED_FOLDERS[folder] !== rest.length || cluster === undefined) return undefined;
  return peer === undefined ? { cluster } : { cluster, peer };
}

/**
 * Whether the key Secrets Manager reports is `wanted`: the same string, or the same key id (a key ARN
 * `arn:…:key/<id>` against a bare `<id>`). An alias cannot be resolved without kms:DescribeKey, so
 * SECRETS_KMS_KEY_ID should be the key's ARN (the stack sets it so).
 */
export function sameKmsKey(reported: string | undefined, wanted: string): boolean {
  if (reported === undefined) return false;
  const idOf = (key: string): string => /:key\/([^/]+)$/.exec(key)?.[1] ?? key;
  return reported === wanted || idOf(reported) === idOf(wanted);
}
