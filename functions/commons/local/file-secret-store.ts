import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PermanentError } from '#commons/errors';
import { systemClock, type Clock } from '#commons/ports/clock';
import {
  AWSCURRENT as CURRENT,
  AWSPENDING as PENDING,
  AWSPREVIOUS as PREVIOUS,
  type PutSecretOptions,
  type PutSecretResult,
  type RotatingSecretStore,
  type SecretListFilter,
  type SecretSummary,
  type SecretValue,
  type SecretVersions,
  type SecretVersionSelector,
} from '#commons/ports/secret-store';

export interface FileSecretStoreOptions {
  /** The JSON file; defaults to `defaultSecretFilePath()`, outside any work tree. */
  path?: string;
  clock?: Clock;
}

interface StoredVersion {
  value: string;
  stages: string[];
  createdAt: string;
}

interface StoredSecret {
  description?: string;
  tags: Record<string, string>;
  createdAt: string;
  /** Insertion-ordered: oldest first. */
  versions: Record<string, StoredVersion>;
}

interface SecretFile {
  format: 1;
  secrets: Record<string, StoredSecret>;
}

/** Secret names become map keys in memory, so a name like `__proto__` stays an ordinary name. */
type Secrets = Map<string, StoredSecret>;

// Secrets Manager keeps about 100 versions and drops the oldest unlabelled ones past that.
const MAX_VERSIONS = 100;

/** `$XDG_STATE_HOME/consul-peering-automation/secrets.json`, or under `~/.local/state` without it. */
export function defaultSecretFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const stateHome = env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state');
  return join(stateHome, 'consul-peering-automation', 'secrets.json');
}

/**
 * The local runtime's secret store: one JSON file, readable by its owner only (0600 in a 0700
 * directory), replaced atomically on every write. Versions and the AWSCURRENT / AWSPREVIOUS /
 * AWSPENDING labels follow Secrets Manager, rotation included, so workflows behave the same locally. Deletion is immediate (there is no
 * recovery window), and writes are serialised within one process, not across processes.
 */
export class FileSecretStore implements RotatingSecretStore {
  readonly path: string;
  private readonly clock: Clock;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: FileSecretStoreOptions = {}) {
    this.path = options.path ?? defaultSecretFilePath();
    this.clock = options.clock ?? systemClock;
  }

  put(name: string, value: string, options: PutSecretOptions = {}): Promise<PutSecretResult> {
    return this.exclusive(async () => {
      const secrets = await this.read();
      const now = this.clock.now().toISOString();
      const versionId = randomUUID();
      const existing = secrets.get(name);
      if (existing === undefined) {
        secrets.set(name, {
          ...(options.description === undefined ? {} : { description: options.description }),
          tags: { ...options.tags },
          createdAt: now,
          versions: { [versionId]: { value, stages: [CURRENT], createdAt: now } },
        });
        await this.write(secrets);
        return { versionId, changed: true };
      }

      const current = Object.entries(existing.versions).find(([, version]) =>
        version.stages.includes(CURRENT),
      );
      if (current !== undefined && current[1].value === value)
        return { versionId: current[0], changed: false };
      existing.versions[versionId] = { value, stages: [], createdAt: now };
      makeCurrent(existing, versionId);
      pruneVersions(existing);
      await this.write(secrets);
      return { versionId, changed: true };
    });
  }

  get(name: string, selector: SecretVersionSelector = {}): Promise<SecretValue | undefined> {
    return this.exclusive(async () => {
      const secret = (await this.read()).get(name);
      if (secret === undefined) return undefined;
      const stage = selector.versionStage ?? (selector.versionId === undefined ? CURRENT : undefined);
      const found = Object.entries(secret.versions).find(
        ([id, version]) =>
          (selector.versionId === undefined || id === selector.versionId) &&
          (stage === undefined || version.stages.includes(stage)),
      );
      return found && { name, versionId: found[0], value: found[1].value };
    });
  }

  list(filter: SecretListFilter): Promise<SecretSummary[]> {
    return this.exclusive(async () => {
      const wanted = Object.entries(filter.tags ?? {});
      return [...(await this.read())]
        .filter(([name]) => filter.namePrefix === undefined || name.startsWith(filter.namePrefix))
        .filter(([, secret]) => wanted.every(([key, value]) => secret.tags[key] === value))
        .map(([name, secret]) => ({ name, tags: { ...secret.tags } }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  versions(secretId: string): Promise<SecretVersions | undefined> {
    return this.exclusive(async () => {
      const secret = (await this.read()).get(secretId);
      if (secret === undefined) return undefined;
      const stages = Object.entries(secret.versions).map(([id, version]) => [id, [...version.stages]]);
      return { name: secretId, stages: Object.fromEntries(stages) as Record<string, string[]> };
    });
  }

  putPending(name: string, versionId: string, value: string): Promise<void> {
    return this.exclusive(async () => {
      const secrets = await this.read();
      const secret = secrets.get(name);
      if (secret === undefined)
        throw new PermanentError(`secret ${name} does not exist`, 'local.secret-missing');
      const existing = secret.versions[versionId];
      if (existing !== undefined) {
        if (existing.value === value) return;
        throw new PermanentError(`version ${versionId} of secret ${name} already holds another value`);
      }
      for (const version of Object.values(secret.versions)) {
        version.stages = version.stages.filter((stage) => stage !== PENDING);
      }
      secret.versions[versionId] = { value, stages: [PENDING], createdAt: this.clock.now().toISOString() };
      pruneVersions(secret);
      await this.write(secrets);
    });
  }

  promote(name: string, versionId: string): Promise<void> {
    return this.exclusive(async () => {
      const secrets = await this.read();
      const secret = secrets.get(name);
      const version = secret?.versions[versionId];
      if (secret === undefined || version === undefined)
        throw new PermanentError(`secret ${name} has no version ${versionId}`, 'local.secret-missing');
      makeCurrent(secret, versionId);
      await this.write(secrets);
    });
  }

  delete(name: string, _options: { forceWithoutRecovery?: boolean } = {}): Promise<void> {
    return this.exclusive(async () => {
      const secrets = await this.read();
      if (!secrets.delete(name)) return;
      await this.write(secrets);
    });
  }

  /** Runs operations one at a time, so concurrent puts in one process never lose an update. */
  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.queue.then(operation, operation);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async read(): Promise<Secrets> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Never quote the content: it is full of secrets.
      throw new PermanentError(`secret file ${this.path} is not valid JSON`, 'local.secret-file-corrupt');
    }
    if (!isSecretFile(parsed)) {
      throw new PermanentError(
        `secret file ${this.path} is not in the expected format`,
        'local.secret-file-corrupt',
      );
    }
    return new Map(Object.entries(parsed.secrets));
  }

  private async write(secrets: Secrets): Promise<void> {
    // Object.fromEntries defines own properties, so no name can reach a prototype.
    const file: SecretFile = { format: 1, secrets: Object.fromEntries(secrets) };
    const directory = dirname(this.path);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    // Same directory as the target, so rename() is atomic; readers see the old file or the new one.
    const temporary = join(directory, `.${randomUUID()}.tmp`);
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    await handle.close();
    try {
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}

/** AWSCURRENT moves to `versionId`, AWSPREVIOUS to the version it leaves, as UpdateSecretVersionStage does. */
function makeCurrent(secret: StoredSecret, versionId: string): void {
  const target = secret.versions[versionId];
  if (target === undefined || target.stages.includes(CURRENT)) return;
  for (const version of Object.values(secret.versions)) {
    const wasCurrent = version.stages.includes(CURRENT);
    version.stages = version.stages.filter((stage) => stage !== PREVIOUS && stage !== CURRENT);
    if (wasCurrent) version.stages.push(PREVIOUS);
  }
  target.stages = [...target.stages.filter((stage) => stage !== PENDING), CURRENT];
}

function pruneVersions(secret: StoredSecret): void {
  const ids = Object.keys(secret.versions);
  let excess = ids.length - MAX_VERSIONS;
  for (const id of ids) {
    if (excess <= 0) return;
    if (secret.versions[id]?.stages.length === 0) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the record is keyed by version id
      delete secret.versions[id];
      excess--;
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function isSecretFile(value: unknown): value is SecretFile {
  if (!isRecord(value) || value.format !== 1 || !isRecord(value.secrets)) return false;
  return Object.values(value.secrets).every(
    (secret) =>
      isRecord(secret) &&
      isRecord(secret.tags) &&
      isRecord(secret.versions) &&
      Object.values(secret.versions).every(
        (version) => isRecord(version) && typeof version.value === 'string' && Array.isArray(version.stages),
      ),
  );
}
