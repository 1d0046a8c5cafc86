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
