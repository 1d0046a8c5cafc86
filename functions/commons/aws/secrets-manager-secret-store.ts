import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type Filter,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { AutomationError, PermanentError } from '#commons/errors';
import {
  AWSCURRENT,
  AWSPENDING,
  type PutSecretOptions,
  type PutSecretResult,
  type RotatingSecretStore,
  type SecretListFilter,
  type SecretSummary,
  type SecretValue,
  type SecretVersions,
  type SecretVersionSelector,
} from '#commons/ports/secret-store';
import { isRetryableAwsError } from './sdk-errors';

/**
 * A Secrets Manager call that failed, named by operation and secret. `retryable` follows the SDK's own
 * classification (throttling, server faults, network errors) after the client's built-in retries ran out.
 */
export class SecretsManagerError extends AutomationError {
  readonly retryable: boolean;
  readonly reason: string;

  constructor(
    readonly operation: string,
    readonly secretName: string | undefined,
    readonly code: string,
    message: string,
    retryable: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.retryable = retryable;
    this.reason = `secrets-manager.${code}`;
  }
}

export interface SecretsManagerSecretStoreOptions {
  /**
   * The KMS key (ARN, id or alias) every secret this store creates is encrypted with. Without it
   * Secrets Manager uses the AWS managed key `aws/secretsmanager`, which any role of the account with
   * secretsmanager:GetSecretValue can have decrypt for it, so the wiring always passes one.
   */
  kmsKeyId?: string;
}

/** Where Secrets Manager sends a secret's rotation, and how often (RotateSecret's schedule). */
export interface RotationSchedule {
  functionArn: string;
  afterDays: number;
}

export class SecretsManagerSecretStore implements RotatingSecretStore {
  private readonly client: SecretsManagerClient;
  private readonly kmsKeyId: string | undefined;

  constructor(
    client: SecretsManagerClient | SecretsManagerClientConfig = {},
    options: SecretsManagerSecretStoreOptions = {},
  ) {
    this.client = client instanceof SecretsManagerClient ? client : new SecretsManagerClient(client);
    this.kmsKeyId = options.kmsKeyId;
  }

  async put(name: string, value: string, options: PutSecretOptions = {}): Promise<PutSecretResult> {
    const current = await this.get(name);
    if (current !== undefined) {
      if (current.value === value) return { versionId: current.versionId, changed: false };
      return this.putVersion(name, value);
    }

    try {
      const created = await this.client.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: value,
          Description: options.description,
          KmsKeyId: this.kmsKeyId,
          Tags: options.tags && Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return { versionId: required(created.VersionId, 'CreateSecret', name, 'VersionId'), changed: true };
    } catch (error) {
      // Lost a race with another writer, or the secret exists without a value (no AWSCURRENT version).
      if (errorName(error) === 'ResourceExistsException') return this.putVersionIfChanged(name, value);
      throw wrap(error, 'CreateSecret', name, value);
    }
  }

  async get(name: string, selector: SecretVersionSelector = {}): Promise<SecretValue | undefined> {
    try {
      const result = await this.client.send(
        new GetSecretValueCommand({
          SecretId: name,
          VersionId: selector.versionId,
          // Named even for the current version: after UpdateSecretVersionStage moto keeps answering
          // an unlabelled read with the version it created last; Secrets Manager answers either the same.
          VersionStage: selector.versionStage ?? (selector.versionId === undefined ? AWSCURRENT : undefined),
        }),
      );
      // A version Secrets Manager made for a rotation that has not been given its value yet.
      if (result.SecretString === undefined && result.SecretBinary === undefined) return undefined;
      if (result.SecretString === undefined) {
        throw new PermanentError(`secret '${name}' holds a binary value; only string secrets are supported`);
      }
      return {
        name: result.Name ?? name,
        versionId: required(result.VersionId, 'GetSecretValue', name, 'VersionId'),
        value: result.SecretString,
      };
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw wrap(error, 'GetSecretValue', name);
    }
  }

  async list(filter: SecretListFilter): Promise<SecretSummary[]> {
    const wantedTags = Object.entries(filter.tags ?? {});
    const filters = listFilters(filter.namePrefix, wantedTags);
    const found: SecretSummary[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client
        .send(new ListSecretsCommand({ Filters: filters, MaxResults: 100, NextToken: nextToken }))
        .catch((error: unknown) => {
          throw wrap(
            error,
            'ListSecrets',
            filter.namePrefix === undefined ? undefined : `${filter.namePrefix}*`,
          );
        });
      for (const entry of page.SecretList ?? []) {
        if (entry.Name === undefined) continue;
        const tags = Object.fromEntries(
          (entry.Tags ?? []).flatMap(({ Key, Value }) => (Key === undefined ? [] : [[Key, Value ?? '']])),
        ) as Record<string, string>;
        // Server-side filters are prefix matches and match tag keys and values independently.
        if (filter.namePrefix !== undefined && !entry.Name.startsWith(filter.namePrefix)) continue;
        if (!wantedTags.every(([key, value]) => tags[key] === value)) continue;
        found.push({
          name: entry.Name,
          tags,
          ...(entry.KmsKeyId !== undefined && { kmsKeyId: entry.KmsKeyId }),
        });
      }
      nextToken = page.NextToken === '' ? undefined : page.NextToken;
    } while (nextToken !== undefined);
    return found;
  }

  async delete(name: string, options: { forceWithoutRecovery?: boolean } = {}): Promise<void> {
    try {
      await this.client.send(
        new DeleteSecretCommand({
          SecretId: name,
          ForceDeleteWithoutRecovery: options.forceWithoutRecovery === true ? true : undefined,
        }),
      );
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return;
      // A replayed delete of a secret already scheduled for deletion has nothing left to do.
      if (errorName(error) === 'InvalidRequestException' && (await this.isScheduledForDeletion(name))) return;
      throw wrap(error, 'DeleteSecret', name);
    }
  }

  async versions(secretId: string): Promise<SecretVersions | undefined> {
    try {
      const described = await this.client.send(new DescribeSecretCommand({ SecretId: secretId }));
      return {
        name: required(described.Name, 'DescribeSecret', secretId, 'Name'),
        stages: described.VersionIdsToStages ?? {},
      };
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw wrap(error, 'DescribeSecret', secretId);
    }
  }

  async putPending(name: string, versionId: string, value: string): Promise<void> {
    try {
      await this.client.send(
        new PutSecretValueCommand({
          SecretId: name,
          ClientRequestToken: versionId,
          SecretString: value,
          VersionStages: [AWSPENDING],
        }),
      );
    } catch (error) {
      // The version exists with a value already: a replay when it is this one, else never overwritten.
      if (
        errorName(error) === 'ResourceExistsException' &&
        (await this.get(name, { versionId }))?.value === value
      )
        return;
      throw wrap(error, 'PutSecretValue', name, value);
    }
  }

  async promote(name: string, versionId: string): Promise<void> {
    const labels = (await this.versions(name))?.stages ?? {};
    const current = Object.keys(labels).find((id) => labels[id]?.includes(AWSCURRENT));
    if (current !== versionId) await this.moveStage(name, AWSCURRENT, { to: versionId, from: current });
    if (labels[versionId]?.includes(AWSPENDING)) await this.moveStage(name, AWSPENDING, { from: versionId });
  }

  /**
   * Hands the secret's rotation to `schedule.functionArn`, every `afterDays` days, from the next
   * window on (RotateImmediately false: onboarding has just stored a fresh token). Returns false,
   * writing nothing, when the secret is already set up that way.
   */
  async enableRotation(name: string, schedule: RotationSchedule): Promise<boolean> {
    const described = await this.client
      .send(new DescribeSecretCommand({ SecretId: name }))
      .catch((error: unknown) => {
        throw wrap(error, 'DescribeSecret', name);
      });
    if (
      described.RotationEnabled === true &&
      described.RotationLambdaARN === schedule.functionArn &&
      described.RotationRules?.AutomaticallyAfterDays === schedule.afterDays
    )
      return false;
    await this.rotate(name, {
      RotationLambdaARN: schedule.functionArn,
      RotationRules: { AutomaticallyAfterDays: schedule.afterDays },
      RotateImmediately: false,
    });
    return true;
  }

  /**
   * Starts a rotation now with the function and schedule the secret already has (RotateSecret,
   * RotateImmediately). Secrets Manager makes the AWSPENDING version, answers with its id, and runs
   * the four steps asynchronously: AWSCURRENT moves to that id when finishSecret is done.
   * A secret without a rotation function is a permanent error that says how to give it one.
   */
  async rotateNow(name: string): Promise<string> {
    const described = await this.client
      .send(new DescribeSecretCommand({ SecretId: name }))
      .catch((error: unknown) => {
        throw wrap(error, 'DescribeSecret', name);
      });
    if (described.RotationEnabled !== true || described.RotationLambdaARN === undefined) {
      throw new PermanentError(
        `secret ${name} has no rotation function: onboarding turns rotation on when the stack sets ROTATION_FUNCTION_ARN (docs/deploy.md, "Gateway token rotation"); deploy it, then onboard the cluster again (peerctl cluster add with the same flags: onboarding is an ensure)`,
        'rotation.not-enabled',
      );
    }
    try {
      const result = await this.client.send(
        new RotateSecretCommand({ SecretId: name, RotateImmediately: true }),
      );
      return required(result.VersionId, 'RotateSecret', name, 'VersionId');
    } catch (error) {
      throw wrap(error, 'RotateSecret', name);
    }
  }

  private async rotate(
    name: string,
    input: Omit<ConstructorParameters<typeof RotateSecretCommand>[0], 'SecretId'>,
  ): Promise<void> {
    try {
      await this.client.send(new RotateSecretCommand({ SecretId: name, ...input }));
    } catch (error) {
      throw wrap(error, 'RotateSecret', name);
    }
  }

  private async moveStage(name: string, stage: string, { to, from }: { to?: string; from?: string }) {
    try {
      await this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: stage,
          MoveToVersionId: to,
          RemoveFromVersionId: from,
        }),
      );
    } catch (error) {
      throw wrap(error, 'UpdateSecretVersionStage', name);
    }
  }

  private async putVersionIfChanged(name: string, value: string): Promise<PutSecretResult> {
    const current = await this.get(name);
    if (current?.value === value) return { versionId: current.versionId, changed: false };
    return this.putVersion(name, value);
  }

  private async putVersion(name: string, value: string): Promise<PutSecretResult> {
    try {
      const result = await this.client.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: value }),
      );
      return { versionId: required(result.VersionId, 'PutSecretValue', name, 'VersionId'), changed: true };
    } catch (error) {
      throw wrap(error, 'PutSecretValue', name, value);
    }
  }

  private async isScheduledForDeletion(name: string): Promise<boolean> {
    try {
      const description = await this.client.send(new DescribeSecretCommand({ SecretId: name }));
      return description.DeletedDate !== undefined;
    } catch {
      return false;
    }
  }
}

// ListSecrets filter values: at most 10 per filter, a restricted alphabet, and a leading `!` negates.
// Values outside those rules are left to the exact client-side check.
const FILTER_VALUE = /^[a-zA-Z0-9 :_@/+=.\-!]{1,512}$/;
const usableFilterValue = (value: string): boolean => FILTER_VALUE.test(value) && !value.startsWith('!');

function listFilters(namePrefix: string | undefined, tags: [string, string][]): Filter[] | undefined {
  const filters: Filter[] = [];
  if (namePrefix !== undefined && usableFilterValue(namePrefix))
    filters.push({ Key: 'name', Values: [namePrefix] });
  const keys = tags.map(([key]) => key).filter(usableFilterValue);
  const values = tags.map(([, value]) => value).filter(usableFilterValue);
  if (keys.length > 0) filters.push({ Key: 'tag-key', Values: [...new Set(keys)].slice(0, 10) });
  if (values.length > 0) filters.push({ Key: 'tag-value', Values: [...new Set(values)].slice(0, 10) });
  return filters.length > 0 ? filters : undefined;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

function required(value: string | undefined, operation: string, name: string, field: string): string {
  if (value === undefined) {
    throw new SecretsManagerError(
      operation,
      name,
      'MalformedResponse',
      `Secrets Manager ${operation} for secret '${name}' returned no ${field}`,
      true,
    );
  }
  return value;
}

function wrap(error: unknown, operation: string, name: string | undefined, secretValue?: string): Error {
  if (error instanceof AutomationError) return error;
  const code = errorName(error) ?? 'UnknownError';
  const detail = error instanceof Error ? error.message : String(error);
  // Service messages do not echo secret values, but an error message must never carry one.
  const leaks = secretValue !== undefined && secretValue !== '' && detail.includes(secretValue);
  const retryable = isRetryableAwsError(error);
  const subject = name === undefined ? '' : ` for secret '${name}'`;
  return new SecretsManagerError(
    operation,
    name,
    code,
    `Secrets Manager ${operation} failed${subject}: ${code}: ${leaks ? '[message withheld]' : detail}`,
    retryable,
    leaks ? undefined : { cause: error },
  );
}
