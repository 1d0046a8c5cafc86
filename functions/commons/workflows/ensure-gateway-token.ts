import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { parseJsonOrUndefined } from '../json';
import { isConsulError } from '#commons/ports/consul-error';
import { NotReadyError, PermanentError } from '../errors';
import { gatewayTokenSecretName, TAG_KIND } from '../naming';
import type { ConsulApi } from '../ports/consul-api';
import { AWSPENDING, AWSPREVIOUS, type SecretStore, type SecretValue } from '../ports/secret-store';
import { meshGatewayPolicyName, meshGatewayPolicyRules } from './gateway-policy';

export const GatewayTokenSecretSchema = z.strictObject({
  accessorId: z.string(),
  secretId: z.string(),
  policyName: z.string(),
  serviceName: z.string(),
});
export type GatewayTokenSecret = z.infer<typeof GatewayTokenSecretSchema>;

/** What the gateway token secret says, before Consul is asked (judged as onboarding would judge it). */
export type GatewayTokenSecretState =
  { state: 'missing' } | { state: 'invalid' } | { state: 'present'; accessorId: string };

export function gatewayTokenSecretState(secret: SecretValue | undefined): GatewayTokenSecretState {
  if (secret === undefined) return { state: 'missing' };
  const parsed = z.safeParse(GatewayTokenSecretSchema, parseJsonOrUndefined(secret.value));
  return parsed.success ? { state: 'present', accessorId: parsed.data.accessorId } : { state: 'invalid' };
}

/**
 * Ensures the mesh gateway's least-privilege policy and ACL token exist, with the token in the secret
 * store. Token IDs are chosen by us and written to the secret BEFORE the token is created in Consul:
 * a crash between the two steps is healed by the next run creating the same token, never a second one.
 */
export async function ensureGatewayToken(
  consul: ConsulApi,
  secrets: SecretStore,
  { cluster, serviceName, secretPrefix }: { cluster: string; serviceName: string; secretPrefix: string },
): Promise<{ accessorId: string; policyChanged: boolean; tokenCreated: boolean }> {
  const policyName = meshGatewayPolicyName(serviceName);
  const rules = meshGatewayPolicyRules(serviceName);
  const description = gatewayTokenDescription(serviceName);
  let policyChanged = false;
  let policy = await consul.readPolicyByName(policyName);
  if (policy === undefined) {
    ({ object: policy, created: policyChanged } = await createOrAdopt(`the policy "${policyName}"`, {
      create: () => consul.createPolicy({ name: policyName, description, rules }),
      read: () => consul.readPolicyByName(policyName),
    }));
  } else if (policy.rules.trim() !== rules.trim()) {
    await consul.updatePolicy(policy.id, { name: policyName, description, rules });
    policyChanged = true;
  }

  const secretName = gatewayTokenSecretName(secretPrefix, cluster);
  const stored = await secrets.get(secretName);
  let token: GatewayTokenSecret;
  if (stored === undefined) {
    token = { accessorId: randomUUID(), secretId: randomUUID(), policyName, serviceName };
    await secrets.put(secretName, JSON.stringify(token), {
      description: `ACL token of the mesh gateway of cluster ${cluster}`,
      tags: { [TAG_KIND]: 'gateway-token' },
    });
  } else {
    const parsed = z.safeParse(GatewayTokenSecretSchema, parseJsonOrUndefined(stored.value));
    if (!parsed.success) {
      throw new PermanentError(
        `the gateway token secret "${secretName}" is not in the expected format; delete it to have a new token issued`,
        'gateway-token-secret-invalid',
      );
    }
    token = parsed.data;
  }

  const existing = await consul.readToken(token.accessorId);
  if (existing !== undefined) return { accessorId: token.accessorId, policyChanged, tokenCreated: false };
  const { secretId, policyName: tokenPolicy } = token;
  const { created: tokenCreated } = await createOrAdopt(`the gateway token ${token.accessorId}`, {
    create: () =>
      consul.createToken({
        accessorId: token.accessorId,
        secretId,
        description,
        policies: [{ name: tokenPolicy }],
      }),
    read: () => consul.readToken(token.accessorId),
  });
  // A new token while an older one of ours exists means its secret was lost (deleted, or a crash before
  // the first run finished): the old token can no longer be handed to anyone, so it goes, and the
  // cluster keeps exactly one gateway token. Tokens someone else made with our policy are left alone.
  // An adopted token gets the same sweep: the run that created it may have died before its sweep.
  // Tokens a rotation holds (AWSPREVIOUS, still in use by gateways; AWSPENDING, being made) stay.
  const others = (await consul.listTokensByPolicy(policy.id)).filter(
    (other) => other.accessorId !== token.accessorId && other.description === description,
  );
  if (others.length > 0) {
    const held = await Promise.all(
      [AWSPREVIOUS, AWSPENDING].map(async (versionStage) => {
        const version = await secrets.get(secretName, { versionStage });
        const parsed = gatewayTokenSecretState(version);
        return parsed.state === 'present' ? parsed.accessorId : undefined;
      }),
    );
    for (const other of others) {
      if (!held.includes(other.accessorId)) await consul.deleteToken(other.accessorId);
    }
  }
  return { accessorId: token.accessorId, policyChanged, tokenCreated };
}

/** How our gateway tokens are told from others of the same policy (the sweeps delete only these). */
export const gatewayTokenDescription = (serviceName: string): string =>
  `Mesh gateway "${serviceName}" for cluster peering (managed by consul-peering-automation)`;

/**
 * Creates an ACL object whose name or AccessorID is ours, or adopts it when Consul says it exists.
 * "Already exists" after a read said "absent" is real: a server that has just restarted can answer a
 * read "ACL not found" for an object it holds (docs/chaos.md), and an earlier delivery may have
 * created it after our read. Either way the object is the one we meant to create, so it is read again;
 * if the read still says absent, Consul is not consistent yet and the step is retried.
 */
export async function createOrAdopt<T>(
  what: string,
  { create, read }: { create: () => Promise<T>; read: () => Promise<T | undefined> },
): Promise<{ object: T; created: boolean }> {
  try {
    return { object: await create(), created: true };
  } catch (error) {
    if (!isConsulError(error, 'already-exists')) throw error;
    const adopted = await read();
    if (adopted === undefined) {
      throw new NotReadyError(`Consul says ${what} already exists but does not return it yet`, {
        cause: error,
      });
    }
    return { object: adopted, created: false };
  }
}
