/** Where connection details, gateway ACL tokens and peering tokens live (Secrets Manager in AWS). */
export interface SecretStore {
  /**
   * Creates the secret, or adds a version when the value differs from the current one. Writing the
   * same value again creates no new version, so replays of an event leave the version history alone.
   */
  put(name: string, value: string, options?: PutSecretOptions): Promise<PutSecretResult>;
  /** The current version, or the one named by `versionId` / `versionStage`; undefined if the secret is absent. */
  get(name: string, selector?: SecretVersionSelector): Promise<SecretValue | undefined>;
  /** Secrets whose name starts with `namePrefix` and that carry every one of `tags`. Values are not read. */
  list(filter: SecretListFilter): Promise<SecretSummary[]>;
  /** Deletes the secret; a no-op when it is absent. */
  delete(name: string, options?: { forceWithoutRecovery?: boolean }): Promise<void>;
}

export interface PutSecretOptions {
  description?: string;
  /** Applied when the secret is created (tags are not rewritten on later versions). */
  tags?: Record<string, string>;
}

export interface PutSecretResult {
  versionId: string;
  /** True when a new secret or a new version was written. */
  changed: boolean;
}

export interface SecretVersionSelector {
  versionId?: string;
  versionStage?: string;
}

export interface SecretValue {
  name: string;
  versionId: string;
  value: string;
}

export interface SecretListFilter {
  namePrefix?: string;
  tags?: Record<string, string>;
}

export interface SecretSummary {
  name: string;
  tags: Record<string, string>;
  /** The KMS key the secret is encrypted with, as the store reports it; absent for the provider's default key. */
  kmsKeyId?: string;
}

/**
 * Rotation the Secrets Manager way: a new value is written as a version labelled AWSPENDING, and
 * made current by moving AWSCURRENT onto it (the version it leaves becomes AWSPREVIOUS).
 */
export interface RotatingSecretStore extends SecretStore {
  /** The secret's name (a store may be given an ARN) and each version's staging labels; undefined if absent. */
  versions(secretId: string): Promise<SecretVersions | undefined>;
  /** Writes `value` as version `versionId`, labelled AWSPENDING. Writing the same version again changes nothing. */
  putPending(name: string, versionId: string, value: string): Promise<void>;
  /** Moves AWSCURRENT to `versionId` (the version it leaves becomes AWSPREVIOUS) and drops its AWSPENDING label. */
  promote(name: string, versionId: string): Promise<void>;
}

export interface SecretVersions {
  name: string;
  /** Staging labels by version id; a version Secrets Manager made for a rotation may hold no value yet. */
  stages: Record<string, string[]>;
}

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPREVIOUS = 'AWSPREVIOUS';
export const AWSPENDING = 'AWSPENDING';
