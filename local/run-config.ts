/**
 * The config file of `npm start`: which Consul clusters to register and which pairs to peer. It holds
 * no secret: each cluster names where its ACL token is (`tokenFile` or `tokenEnv`), and the token is
 * read from there into the cluster's connection secret. Validation names the JSON path of every
 * problem and what is expected there, e.g. `clusters[1].address: expected http(s)://host:port`.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { ClusterConnectionSchema, isConsulAddress, type ClusterConnection } from '#commons/clusters';
import { ValidationError } from '#commons/errors';
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';

// zod/mini has no default locale; every message below is our own, this only covers the unforeseen.
z.config(en());

export const DEFAULT_CONFIG_FILE = 'peering.config.json';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SERVICE_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// The Secrets Manager alphabet, not starting or ending with '/' (names are `<prefix>/clusters/<name>`).
const SECRET_PREFIX = /^(?!\/)[A-Za-z0-9/_+=.@-]{1,256}(?<!\/)$/;
const HOST_OR_IP = new RegExp(
  [z.regexes.hostname, z.regexes.ipv4, z.regexes.ipv6].map((r) => r.source).join('|'),
);

const EXPECT = {
  address: 'expected http(s)://host:port, e.g. https://consul.dc1.example.com:8501',
  clusterName:
    "expected a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
  clusterRef: 'expected the name of a cluster in "clusters"',
  path: 'expected a file path',
  env: 'expected the name of an environment variable, e.g. CONSUL_TOKEN_DC1',
  partition: "expected an admin partition name: 1-63 letters, digits or '-' (Consul Enterprise only)",
  serviceName:
    "expected a service name: 1-63 letters, digits or '-', starting and ending with a letter or digit",
  host: 'expected a hostname or an IP address, without scheme or port',
  port: 'expected a port number 1-65535',
  secretPrefix:
    "expected a secret name prefix: letters, digits and '/_+=.@-', not starting or ending with '/'",
} as const;

const text = (expected: string) => z.string({ error: expected });
const matching = (pattern: RegExp, expected: string) =>
  text(expected).check(z.regex(pattern, { error: expected }));
const nonEmpty = (expected: string) => text(expected).check(z.minLength(1, { error: expected }));

const HostPortSchema = z.strictObject(
  {
    address: matching(HOST_OR_IP, EXPECT.host).check(z.maxLength(253, { error: EXPECT.host })),
    port: z
      .int({ error: EXPECT.port })
      .check(z.minimum(1, { error: EXPECT.port }), z.maximum(65535, { error: EXPECT.port })),
  },
  { error: 'expected {"address": host, "port": number}' },
);

const GatewaySchema = z.strictObject(
  {
    serviceName: z.optional(matching(SERVICE_NAME, EXPECT.serviceName)),
    lan: HostPortSchema,
    wan: HostPortSchema,
  },
  { error: 'expected {"serviceName"?, "lan": {"address", "port"}, "wan": {"address", "port"}}' },
);

const ClusterSchema = z.strictObject(
  {
    name: matching(DNS_LABEL, EXPECT.clusterName),
    address: text(EXPECT.address).check(z.refine(isConsulAddress, { error: EXPECT.address })),
    tokenFile: z.optional(nonEmpty(EXPECT.path)),
    tokenEnv: z.optional(matching(ENV_NAME, EXPECT.env)),
    caFile: z.optional(nonEmpty(EXPECT.path)),
    partition: z.optional(matching(SERVICE_NAME, EXPECT.partition)),
    gateway: z.optional(GatewaySchema),
  },
  {
    error:
      'expected a cluster {"name", "address", "tokenFile" | "tokenEnv", "caFile"?, "partition"?, "gateway"?}',
  },
);

const PeeringSchema = z.strictObject(
  {
    acceptor: matching(DNS_LABEL, EXPECT.clusterRef),
    dialer: matching(DNS_LABEL, EXPECT.clusterRef),
  },
  { error: 'expected a peering {"acceptor": cluster name, "dialer": cluster name}' },
);

export const RunConfigSchema = z.strictObject(
  {
    secretPrefix: z.optional(matching(SECRET_PREFIX, EXPECT.secretPrefix)),
    clusters: z
      .array(ClusterSchema, { error: 'expected a list of clusters' })
      .check(z.minLength(2, { error: 'expected at least two clusters (a peering joins two)' })),
    peerings: z
      .array(PeeringSchema, { error: 'expected a list of peerings' })
      .check(z.minLength(1, { error: 'expected at least one peering' })),
  },
  { error: 'expected a JSON object {"secretPrefix"?, "clusters": [...], "peerings": [...]}' },
);
export type RunConfigFile = z.infer<typeof RunConfigSchema>;

/** The keys each object accepts, by path without indices (for "unknown key" messages). */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(RunConfigSchema.shape),
  'clusters[]': Object.keys(ClusterSchema.shape),
  'clusters[].gateway': Object.keys(GatewaySchema.shape),
  'clusters[].gateway.lan': Object.keys(HostPortSchema.shape),
  'clusters[].gateway.wan': Object.keys(HostPortSchema.shape),
  'peerings[]': Object.keys(PeeringSchema.shape),
};

export interface ConfigProblem {
  /** JSON path, e.g. `clusters[1].address`; empty for the file as a whole. */
  path: string;
  message: string;
}

/** Everything wrong with a config (all problems, not just the first). Never quotes a token. */
export class RunConfigError extends ValidationError {
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      [
        `${source}: ${problems.length === 1 ? 'invalid' : `${problems.length} problems`}`,
        ...problems.map((p) => `  ${p.path === '' ? '' : `${p.path}: `}${p.message}`),
      ].join('\n'),
      problems[0]?.path,
    );
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

const has = (value: unknown, key: PropertyKey): boolean =>
  typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, key);

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let value = root;
  for (const key of path) {
    if (!has(value, key)) return { found: false, value: undefined };
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value };
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): ConfigProblem[] {
  const path = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const allowed = KNOWN_KEYS[path.replace(/\[\d+\]/g, '[]')] ?? [];
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message:
        key === 'token'
          ? 'the token must not be in the config file; name a file ("tokenFile") or an environment variable ("tokenEnv") that holds it'
          : key === 'caCert'
            ? 'unknown key; use "caFile" (the path of the PEM file)'
            : `unknown key; expected one of ${allowed.map((k) => `"${k}"`).join(', ')}`,
    }));
  }
  if (issue.code === 'invalid_type' && issue.path.length > 0 && !valueAt(input, issue.path).found) {
    return [{ path, message: `missing; ${issue.message}` }];
  }
  return [{ path, message: issue.message }];
}

/**
 * Checks a parsed JSON value against the config format (structure, then the rules across fields).
 * No I/O: tokens and CA files are read by `resolveRunConfig`.
 */
export function parseRunConfig(input: unknown, source = 'config'): RunConfigFile {
  const result = z.safeParse(RunConfigSchema, input);
  if (!result.success) {
    const problems = result.error.issues.flatMap((issue) => describeIssue(issue, input));
    const unique = [...new Map(problems.map((p) => [`${p.path}\n${p.message}`, p])).values()];
    throw new RunConfigError(source, unique);
  }
  const config = result.data;
  const problems: ConfigProblem[] = [];

  const firstIndex = new Map<string, number>();
  config.clusters.forEach((cluster, i) => {
    const at = `clusters[${i}]`;
    const earlier = firstIndex.get(cluster.name);
    if (earlier === undefined) firstIndex.set(cluster.name, i);
    else
      problems.push({
        path: `${at}.name`,
        message: `duplicate cluster name "${cluster.name}" (also clusters[${earlier}])`,
      });
    if (cluster.tokenFile === undefined && cluster.tokenEnv === undefined) {
      problems.push({
        path: at,
        message:
          'expected "tokenFile" (a file holding the ACL token) or "tokenEnv" (an environment variable holding it); the token itself never goes in the config',
      });
    } else if (cluster.tokenFile !== undefined && cluster.tokenEnv !== undefined) {
      problems.push({ path: at, message: 'expected only one of "tokenFile" and "tokenEnv"' });
    }
    if (cluster.caFile !== undefined && !cluster.address.startsWith('https://')) {
      problems.push({ path: `${at}.caFile`, message: 'only used with an https:// address' });
    }
  });

  const defined = [...firstIndex.keys()].map((n) => `"${n}"`).join(', ');
  const pairs = new Map<string, number>();
  const peered = new Set<string>();
  config.peerings.forEach((peering, i) => {
    const at = `peerings[${i}]`;
    for (const role of ['acceptor', 'dialer'] as const) {
      const name = peering[role];
      peered.add(name);
      if (!firstIndex.has(name)) {
        problems.push({
          path: `${at}.${role}`,
          message: `no cluster named "${name}"; expected one of ${defined}`,
        });
      }
    }
    if (peering.acceptor === peering.dialer) {
      problems.push({
        path: at,
        message: `acceptor and dialer are both "${peering.acceptor}"; a cluster cannot peer with itself`,
      });
      return;
    }
    const pair = [peering.acceptor, peering.dialer].sort().join('\n');
    const earlier = pairs.get(pair);
    if (earlier === undefined) pairs.set(pair, i);
    else {
      problems.push({
        path: at,
        message: `"${peering.acceptor}" and "${peering.dialer}" are already peered by peerings[${earlier}] (one peering per pair, in one direction)`,
      });
    }
  });
  config.clusters.forEach((cluster, i) => {
    if (!peered.has(cluster.name) && firstIndex.get(cluster.name) === i) {
      problems.push({
        path: `clusters[${i}]`,
        message: `cluster "${cluster.name}" is in no peering; add a peering for it or remove it`,
      });
    }
  });

  if (problems.length > 0) throw new RunConfigError(source, sortedByPath(problems));
  return config;
}

/** Clusters before peerings, each in file order (a stable sort keeps a path's problems in order). */
function sortedByPath(problems: ConfigProblem[]): ConfigProblem[] {
  const key = (p: ConfigProblem): [number, number] => [
    p.path.startsWith('peerings') ? 1 : 0,
    Number(/^\w+\[(\d+)\]/.exec(p.path)?.[1] ?? -1),
  ];
  return problems.toSorted((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
}

export interface RunCluster {
  name: string;
  /** The value of the cluster's connection secret (holds the token: never print it). */
  connection: ClusterConnection;
  gateway?: {
    serviceName?: string;
    lan: { address: string; port: number };
    wan: { address: string; port: number };
  };
  /** Where the token was read from, for messages: `file /path` or `env NAME`. */
  tokenSource: string;
}

export interface RunConfig {
  secretPrefix: string;
  clusters: RunCluster[];
  peerings: { acceptor: string; dialer: string }[];
}

export interface ResolveOptions {
  /** Relative `tokenFile` / `caFile` paths are relative to this (the config file's directory). */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
}

/** `~/x` is under the home directory; a relative path is relative to `baseDir`. */
export function resolvePath(path: string, baseDir: string): string {
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

const describeReadError = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? (error instanceof Error ? error.message : String(error));
};

async function readText(path: string): Promise<{ text: string } | { error: string }> {
  try {
    return { text: await readFile(path, 'utf8') };
  } catch (error) {
    return { error: `cannot read ${path} (${describeReadError(error)})` };
  }
}

/**
 * Reads each cluster's token (from its file or environment variable) and CA file, and builds the
 * connection secrets. Problems name the path and the file or variable, never a token.
 */
export async function resolveRunConfig(
  config: RunConfigFile,
  options: ResolveOptions,
  source = 'config',
): Promise<RunConfig> {
  const env = options.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const clusters: RunCluster[] = [];

  for (const [i, cluster] of config.clusters.entries()) {
    const at = `clusters[${i}]`;
    let token: string | undefined;
    let tokenSource: string;
    if (cluster.tokenFile !== undefined) {
      const path = resolvePath(cluster.tokenFile, options.baseDir);
      tokenSource = `file ${path}`;
      const read = await readText(path);
      if ('error' in read) problems.push({ path: `${at}.tokenFile`, message: read.error });
      else if (read.text.trim() === '')
        problems.push({ path: `${at}.tokenFile`, message: `${path} is empty; expected the ACL token` });
      else if (/\s/.test(read.text.trim()))
        problems.push({
          path: `${at}.tokenFile`,
          message: `${path} holds more than one word; expected just the ACL token`,
        });
      else token = read.text.trim();
    } else {
      const name = cluster.tokenEnv ?? '';
      tokenSource = `env ${name}`;
      const value = env[name];
      if (value === undefined)
        problems.push({ path: `${at}.tokenEnv`, message: `environment variable ${name} is not set` });
      else if (value.trim() === '')
        problems.push({ path: `${at}.tokenEnv`, message: `environment variable ${name} is empty` });
      else if (/\s/.test(value.trim()))
        problems.push({
          path: `${at}.tokenEnv`,
          message: `environment variable ${name} holds more than one word; expected just the ACL token`,
        });
      else token = value.trim();
    }

    let caCert: string | undefined;
    if (cluster.caFile !== undefined) {
      const path = resolvePath(cluster.caFile, options.baseDir);
      const read = await readText(path);
      if ('error' in read) problems.push({ path: `${at}.caFile`, message: read.error });
      else if (!isCertificate(read.text))
        problems.push({
          path: `${at}.caFile`,
          message: `${path} is not a PEM certificate; expected the CA that signed Consul's HTTPS certificate`,
        });
      else caCert = read.text;
    }

    if (token === undefined) continue;
    // The gateway goes into the secret too: it is where the automation re-registers it from.
    const connection: z.input<typeof ClusterConnectionSchema> = {
      address: cluster.address,
      token,
      ...(caCert === undefined ? {} : { caCert }),
      ...(cluster.partition === undefined ? {} : { partition: cluster.partition }),
      ...(cluster.gateway === undefined ? {} : { gateway: cluster.gateway }),
    };
    // The config's checks are stricter than the secret's; this only guards against the two drifting apart.
    const checked = z.safeParse(ClusterConnectionSchema, connection);
    if (!checked.success) {
      const field = formatPath(checked.error.issues[0]?.path ?? []);
      problems.push({ path: at, message: `would make an invalid connection secret (at "${field}")` });
      continue;
    }
    clusters.push({
      name: cluster.name,
      connection: checked.data,
      ...(cluster.gateway === undefined ? {} : { gateway: cluster.gateway }),
      tokenSource,
    });
  }

  if (problems.length > 0) throw new RunConfigError(source, problems);
  return {
    secretPrefix: config.secretPrefix ?? DEFAULT_SECRET_PREFIX,
    clusters,
    peerings: config.peerings.map(({ acceptor, dialer }) => ({ acceptor, dialer })),
  };
}

function isCertificate(pem: string): boolean {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return false;
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** Reads, parses, checks and resolves a config file. Every failure is a RunConfigError. */
export async function loadRunConfig(
  file: string,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<RunConfig> {
  const path = resolve(file);
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (error) {
    throw new RunConfigError(path, [
      { path: '', message: `cannot read the config file (${describeReadError(error)})` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new RunConfigError(path, [
      { path: '', message: `not valid JSON (${error instanceof Error ? error.message : String(error)})` },
    ]);
  }
  const config = parseRunConfig(json, path);
  return resolveRunConfig(
    config,
    { baseDir: dirname(path), ...(options.env === undefined ? {} : { env: options.env }) },
    path,
  );
}
