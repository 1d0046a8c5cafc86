import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import type { ClusterConnection, ClusterDirectory } from '../clusters';
import { NotReadyError, PermanentError, ValidationError } from '../errors';
import { parseJsonOrUndefined } from '../json';
import { clusterSecretName, gatewayTokenSecretName } from '../naming';
import type { ConsulApi } from '../ports/consul-api';
import { isConsulError } from '../ports/consul-error';
import { AWSCURRENT, AWSPENDING, AWSPREVIOUS, type RotatingSecretStore } from '../ports/secret-store';
import type { WorkflowLog } from './context';
import {
  createOrAdopt,
  gatewayTokenDescription,
  GatewayTokenSecretSchema,
  type GatewayTokenSecret,
} from './ensure-gateway-token';

/** Secrets Manager's rotation contract: it calls the function once per step, in this order. */
export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** One call of the contract: the secret (name or ARN), the version being made, and the step. */
export interface RotationRequest {
  secretId: string;
  /** Secrets Manager's ClientRequestToken: the id of the version this rotation writes. */
  versionId: string;
  step: RotationStep;
}

export const RotationRequestSchema = z.object({
  SecretId: z.string().check(z.minLength(1)),
  ClientRequestToken: z.string().check(z.minLength(1)),
  Step: z.enum(ROTATION_STEPS),
});

export interface GatewayTokenRotationContext {
  secrets: RotatingSecretStore;
  clusters: ClusterDirectory;
  /**
   * Runs `use` with Consul as a client holding `token` sees it (testSecret proves the new token works
   * by using it), then lets the client go: a warm rotation function would otherwise keep one
   * connection pool per rotation it ever tested.
   */
  withConsulAs: <T>(
    connection: ClusterConnection,
    token: string,
    use: (consul: ConsulApi) => Promise<T>,
  ) => Promise<T>;
  secretPrefix: string;
  log: WorkflowLog;
}

/**
 * Runs one step of the rotation of a gateway token secret (`<prefix>/gateway-tokens/<cluster>`).
 * Every step is an ensure, so Secrets Manager may call it again after a failure or a timeout:
 * - createSecret: a new token (new AccessorID and SecretID, same policy) written as the AWSPENDING
 *   version, then created in Consul (IDs stored first, as onboarding does, so a crash makes no orphan);
 * - setSecret: the token exists in Consul (heals a createSecret that died after the write);
 * - testSecret: Consul accepts the new SecretID and resolves it to the gateway policy;
 * - finishSecret: AWSCURRENT moves to the new version, AWSPREVIOUS to the one it leaves; then our
 *   tokens held by neither label are deleted. The previous token stays valid until the next rotation,
 *   so a running gateway has a whole rotation period to pick up the new one.
 * Until finishSecret, AWSCURRENT is untouched: a failed step leaves the working token current.
 */
export async function rotateGatewayToken(
  request: RotationRequest,
  context: GatewayTokenRotationContext,
): Promise<{ step: RotationStep; changed: boolean }> {
  const { step, versionId } = request;
  const described = await context.secrets.versions(request.secretId);
  if (described === undefined) {
    throw new PermanentError(`secret ${request.secretId} does not exist`, 'rotation.secret-missing');
  }
  const name = described.name;
  const cluster = clusterOf(name, context.secretPrefix);
  const labels = described.stages[versionId];
  // Secrets Manager makes the version (labelled AWSPENDING, no value) before calling createSecret;
  // when driven without it (peerctl rotate on the local store), createSecret makes it.
  if (labels === undefined && step !== 'createSecret') {
    throw new PermanentError(`secret ${name} has no version ${versionId}`, 'rotation.version-missing');
  }
  const finished = labels?.includes(AWSCURRENT) === true;
  // Already finished: a late retry has nothing left to do, but the retired tokens' sweep.
  if (finished && step !== 'finishSecret') return { step, changed: false };
  if (!finished && labels !== undefined && !labels.includes(AWSPENDING)) {
    throw new PermanentError(
      `version ${versionId} of secret ${name} is not AWSPENDING; it cannot be rotated to`,
      'rotation.version-not-pending',
    );
  }

  const ref = { name: cluster, connectionSecret: clusterSecretName(context.secretPrefix, cluster) };
  switch (step) {
    case 'createSecret': {
      const current = await readToken(context.secrets, name, { versionStage: AWSCURRENT });
      if (current === undefined) {
        throw new PermanentError(`secret ${name} has no current value to rotate`, 'rotation.secret-missing');
      }
      let pending = await readToken(context.secrets, name, { versionId });
      let changed = false;
      if (pending === undefined) {
        pending = { ...current, accessorId: randomUUID(), secretId: randomUUID() };
        await context.secrets.putPending(name, versionId, JSON.stringify(pending));
        changed = true;
      }
      const { api } = await context.clusters.connect(ref);
      changed = (await ensureTokenInConsul(api, pending)) || changed;
      context.log.info('gateway token rotation: new token created', {
        cluster,
        step,
        accessorId: pending.accessorId,
      });
      return { step, changed };
    }
    case 'setSecret': {
      const pending = await requirePending(context.secrets, name, versionId);
      const { api } = await context.clusters.connect(ref);
      return { step, changed: await ensureTokenInConsul(api, pending) };
    }
    case 'testSecret': {
      const pending = await requirePending(context.secrets, name, versionId);
      const { connection } = await context.clusters.connect(ref);
      await context.withConsulAs(connection, pending.secretId, (consul) =>
        testToken(consul, pending, cluster),
      );
      return { step, changed: false };
    }
    case 'finishSecret': {
      const pending = await requirePending(context.secrets, name, versionId);
      if (!finished) await context.secrets.promote(name, versionId);
      const previous = await readToken(context.secrets, name, { versionStage: AWSPREVIOUS });
      const { api } = await context.clusters.connect(ref);
      const deleted = await deleteRetiredTokens(api, pending, [pending.accessorId, previous?.accessorId]);
      context.log.info('gateway token rotated', {
        cluster,
        accessorId: pending.accessorId,
        previousAccessorId: previous?.accessorId,
        retired: deleted,
      });
      return { step, changed: !finished || deleted.length > 0 };
    }
  }
}

/** The cluster a gateway token secret belongs to; any other secret is refused. */
function clusterOf(name: string, prefix: string): string {
  const base = gatewayTokenSecretName(prefix, '');
  const cluster = name.startsWith(base) ? name.slice(base.length) : '';
  if (cluster === '' || cluster.includes('/')) {
    throw new ValidationError(
      `SecretId: expected a gateway token secret "${base}<cluster>", got "${name}"`,
      'SecretId',
    );
  }
  return cluster;
}

async function readToken(
  secrets: RotatingSecretStore,
  name: string,
  selector: { versionId?: string; versionStage?: string },
): Promise<GatewayTokenSecret | undefined> {
  const stored = await secrets.get(name, selector);
  if (stored === undefined) return undefined;
  const parsed = z.safeParse(GatewayTokenSecretSchema, parseJsonOrUndefined(stored.value));
  if (!parsed.success) {
    throw new PermanentError(
      `secret ${name} (${selector.versionStage ?? selector.versionId ?? AWSCURRENT}) is not a gateway token`,
      'gateway-token-secret-invalid',
    );
  }
  return parsed.data;
}

async function requirePending(
  secrets: RotatingSecretStore,
  name: string,
  versionId: string,
): Promise<GatewayTokenSecret> {
  const pending = await readToken(secrets, name, { versionId });
  if (pending === undefined) {
    throw new PermanentError(
      `version ${versionId} of secret ${name} has no value: run createSecret first`,
      'rotation.version-missing',
    );
  }
  return pending;
}

/** Creates the token with the IDs the secret holds, or finds it there. True when it was created. */
async function ensureTokenInConsul(consul: ConsulApi, token: GatewayTokenSecret): Promise<boolean> {
  if ((await consul.readToken(token.accessorId)) !== undefined) return false;
  const { created } = await createOrAdopt(`the gateway token ${token.accessorId}`, {
    create: () =>
      consul.createToken({
        accessorId: token.accessorId,
        secretId: token.secretId,
        description: gatewayTokenDescription(token.serviceName),
        policies: [{ name: token.policyName }],
      }),
    read: () => consul.readToken(token.accessorId),
  });
  return created;
}

async function testToken(consul: ConsulApi, token: GatewayTokenSecret, cluster: string): Promise<void> {
  let own;
  try {
    own = await consul.readOwnToken();
  } catch (error) {
    // Just created on a busy server: a follower may not have it yet. Secrets Manager retries the step.
    if (isConsulError(error, 'permission-denied')) {
      throw new NotReadyError(`cluster ${cluster}: Consul does not accept the new gateway token yet`, {
        cause: error,
      });
    }
    throw error;
  }
  if (own.accessorId !== token.accessorId || !own.policies.some((p) => p.name === token.policyName)) {
    throw new PermanentError(
      `cluster ${cluster}: the new gateway token resolves to ${own.accessorId} without the policy "${token.policyName}"`,
      'rotation.test-failed',
    );
  }
}

/** Deletes our gateway tokens of this policy that no label holds any more. Returns their AccessorIDs. */
async function deleteRetiredTokens(
  consul: ConsulApi,
  token: GatewayTokenSecret,
  kept: (string | undefined)[],
): Promise<string[]> {
  const tokenInConsul = await consul.readToken(token.accessorId);
  const policy = tokenInConsul?.policies.find((p) => p.name === token.policyName);
  if (policy === undefined) return [];
  const description = gatewayTokenDescription(token.serviceName);
  const retired = (await consul.listTokensByPolicy(policy.id))
    .filter((other) => other.description === description && !kept.includes(other.accessorId))
    .map((other) => other.accessorId);
  for (const accessorId of retired) await consul.deleteToken(accessorId);
  return retired;
}
