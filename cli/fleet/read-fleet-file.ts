/**
 * Reads a fleet file (YAML or JSON) into the desired state apply compares with: every cluster's
 * connection secret as it would be stored (tokens, CA and client certificate read from their files
 * and variables) and every wanted peering. Every problem is collected, with its path, before anything
 * is returned: the caller writes nothing unless the whole file is good.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type * as z from 'zod';
import * as zm from 'zod/mini';
import { ClusterConnectionSchema, type ClusterConnection } from '#commons/clusters';
import { preview } from '#commons/events/validation-error';
import { messageOf, UsageError } from '../errors';
import * as fields from '../fields';
import { FleetClusterSchema, FleetSchema, type Fleet, type FleetCluster } from './fleet-schema';

/** Consul's own variable for the CLI's token, as for `peerctl cluster add`. */
export const DEFAULT_TOKEN_ENV = 'CONSUL_HTTP_TOKEN';

export interface FleetProblem {
  /** Where in the file: `peerings[1].dialer`, `clusters[0].gateway.lan.port`, or `line 3` for syntax. */
  path: string;
  /** `expected ..., got ...`. */
  message: string;
}

/** A file with problems (exit 2): each is listed, and nothing was changed. */
export class FleetFileError extends UsageError {
  constructor(
    readonly file: string,
    readonly problems: readonly FleetProblem[],
  ) {
    super(
      [
        `${file}: ${problems.length} problem(s), nothing was changed`,
        ...problems.map((p) => `  ${p.path}: ${p.message}`),
      ].join('\n'),
      'apply',
    );
    this.name = 'FleetFileError';
  }
}

export interface DesiredCluster {
  name: string;
  connection: ClusterConnection;
  /** Where the token came from, for progress lines (`file ...`, `env ...`); never the token. */
  tokenSource: string;
}

export interface DesiredPeering {
  acceptor: string;
  dialer: string;
  /** Sorted and unique, as the wanted-peering record holds them. */
  exportServices: string[];
}

export interface DesiredFleet {
  settings: Fleet['settings'];
  clusters: DesiredCluster[];
  peerings: DesiredPeering[];
}

const formatPath = (path: readonly PropertyKey[]): string =>
  path.reduce<string>(
    (text, key) =>
      typeof key === 'number' ? `${text}[${key}]` : `${text}${text === '' ? '' : '.'}${String(key)}`,
    '',
  ) || '(file)';

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const got = (value: unknown): string => (value === undefined ? 'got nothing' : `got ${preview(value)}`);

/** One zod issue as `expected ..., got ...` at its path (several for unknown keys). */
function problemsOf(issue: z.core.$ZodIssue, input: unknown): FleetProblem[] {
  const value = valueAt(input, issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message:
        key === 'token'
          ? 'expected no token in the file (it would be kept in git); name a file (tokenFile) or an environment variable (tokenEnv) that holds it'
          : `expected a known field, got the unknown field "${key.slice(0, 40)}"`,
    }));
  }
  const path = formatPath(issue.path);
  if (issue.code === 'custom')
    return [
      { path, message: issue.message.includes(', got ') ? issue.message : `${issue.message}, ${got(value)}` },
    ];
  if (issue.code === 'invalid_type') return [{ path, message: `expected ${issue.expected}, ${got(value)}` }];
  const expected = issue.message
    .replace(/^must be /, '')
    .replace(/^expected /, '')
    .replace(/^Too (small|big): expected /, '')
    .replace(/^Invalid input: expected /, '');
  return [{ path, message: `expected ${expected}, ${got(value)}` }];
}

/** The file's text as data: YAML (.yaml, .yml) or JSON (.json); syntax errors become problems. */
export function parseFleetText(text: string, file: string): { data?: unknown; problems: FleetProblem[] } {
  const extension = extname(file).toLowerCase();
  if (extension === '.json') {
    try {
      return { data: JSON.parse(text) as unknown, problems: [] };
    } catch (error) {
      return {
        problems: [{ path: '(file)', message: `expected JSON, got a syntax error: ${messageOf(error)}` }],
      };
    }
  }
  if (extension !== '.yaml' && extension !== '.yml') {
    return {
      problems: [
        {
          path: '(file)',
          message: `expected a .yaml, .yml or .json file, got "${extension || 'no extension'}"`,
        },
      ],
    };
  }
  const document = parseDocument(text);
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((error) => ({
        path:
          error.linePos === undefined
            ? '(file)'
            : `line ${error.linePos[0].line}, column ${error.linePos[0].col}`,
        message: `expected YAML, got ${(error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    };
  }
  return { data: document.toJS() as unknown, problems: [] };
}

/** In the file's order (clusters[2] before clusters[10]), whichever check found them. */
function inFileOrder(problems: FleetProblem[]): FleetProblem[] {
  const key = (p: FleetProblem): string => p.path.replace(/\d+/g, (n) => n.padStart(6, '0'));
  return problems.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Schema problems of parsed data, all of them; the fleet when there are none. */
export function validateFleet(data: unknown): { fleet?: Fleet; problems: FleetProblem[] } {
  const parsed = FleetSchema.safeParse(data);
  if (parsed.success) return { fleet: parsed.data, problems: [] };
  return { problems: inFileOrder(parsed.error.issues.flatMap((issue) => problemsOf(issue, data))) };
}

/** Relative paths in the file are relative to the file's directory, as a reader of it expects. */
const pathIn = (baseDir: string, path: string): string =>
  path === '~' || path.startsWith('~/')
    ? resolve(homedir(), path.slice(2))
    : isAbsolute(path)
      ? path
      : resolve(baseDir, path);

/** Reads what each cluster names (token, CA, client certificate); each failure is a problem at its field. */
export async function resolveFleet(
  fleet: Fleet,
  options: { baseDir: string; env: NodeJS.ProcessEnv },
): Promise<{ desired?: DesiredFleet; problems: FleetProblem[] }> {
  const { clusters, problems } = await resolveClusters([...fleet.clusters.entries()], options);
  if (problems.length > 0) return { problems: inFileOrder(problems) };
  const peerings = fleet.peerings.map((p) => ({
    acceptor: p.acceptor,
    dialer: p.dialer,
    exportServices: [...new Set(p.exportServices)].sort(),
  }));
  return { desired: { settings: fleet.settings, clusters, peerings }, problems };
}

/** The clusters at these positions of the file, each resolved on its own. */
async function resolveClusters(
  entries: readonly (readonly [number, FleetCluster])[],
  { baseDir, env }: { baseDir: string; env: NodeJS.ProcessEnv },
): Promise<{ clusters: DesiredCluster[]; problems: FleetProblem[] }> {
  const problems: FleetProblem[] = [];
  const attempt = async <T>(path: string, read: () => Promise<T> | T): Promise<T | undefined> => {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      // fields.* start with what they were given ("<path>: ..."), which may be the other file of a pair.
      const split = error.message.indexOf(': ');
      problems.push(
        split > 0 && error.message.startsWith('clusters[')
          ? { path: error.message.slice(0, split), message: error.message.slice(split + 2) }
          : { path, message: error.message },
      );
      return undefined;
    }
  };
  const clusters: DesiredCluster[] = [];
  for (const [i, cluster] of entries) {
    const at = `clusters[${i}]`;
    const tokenEnv = cluster.tokenEnv ?? (cluster.tokenFile === undefined ? DEFAULT_TOKEN_ENV : undefined);
    const token =
      cluster.tokenFile !== undefined
        ? await attempt(`${at}.tokenFile`, () =>
            fields.readTokenFile(pathIn(baseDir, cluster.tokenFile ?? ''), `${at}.tokenFile`),
          )
        : await attempt(`${at}.tokenEnv`, () =>
            fields.readTokenEnv(
              tokenEnv ?? DEFAULT_TOKEN_ENV,
              env,
              cluster.tokenEnv === undefined
                ? `${at}.tokenEnv (default ${DEFAULT_TOKEN_ENV})`
                : `${at}.tokenEnv`,
            ),
          );
    const caCert =
      cluster.caFile === undefined
        ? undefined
        : await attempt(`${at}.caFile`, () =>
            fields.readCaFile(pathIn(baseDir, cluster.caFile ?? ''), `${at}.caFile`),
          );
    const certificate =
      cluster.clientCertFile === undefined || cluster.clientKeyFile === undefined
        ? undefined
        : await attempt(`${at}.clientCertFile`, () =>
            fields.readClientCertificate(
              pathIn(baseDir, cluster.clientCertFile ?? ''),
              pathIn(baseDir, cluster.clientKeyFile ?? ''),
              { cert: `${at}.clientCertFile`, key: `${at}.clientKeyFile` },
            ),
          );
    if (token === undefined) continue;
    clusters.push({
      name: cluster.name,
      // Through the secret's own schema, as `peerctl cluster add` stores it.
      connection: zm.parse(ClusterConnectionSchema, {
        address: new URL(cluster.address).origin,
        token,
        ...(caCert === undefined ? {} : { caCert }),
        ...certificate,
        ...(cluster.partition === undefined ? {} : { partition: cluster.partition }),
        ...(cluster.gateway === undefined ? {} : { gateway: cluster.gateway }),
      }),
      tokenSource:
        cluster.tokenFile !== undefined
          ? `file ${pathIn(baseDir, cluster.tokenFile)}`
          : `env ${tokenEnv ?? DEFAULT_TOKEN_ENV}`,
    });
  }
  return { clusters, problems };
}

/** The whole file, or a FleetFileError listing every problem in it. */
export async function readFleetFile(file: string, env: NodeJS.ProcessEnv): Promise<DesiredFleet> {
  const path = fields.expandPath(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `-f: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')})`,
      'apply',
    );
  }
  const parsed = parseFleetText(text, path);
  if (parsed.problems.length > 0) throw new FleetFileError(file, parsed.problems);
  const validated = validateFleet(parsed.data);
  const options = { baseDir: dirname(path), env };
  if (validated.fleet === undefined) {
    // The clusters that are well-formed on their own still have their files and variables read, so
    // a missing token file is named together with a typo elsewhere in the file.
    const raw = (parsed.data as { clusters?: unknown } | null)?.clusters;
    const wellFormed = (Array.isArray(raw) ? (raw as unknown[]) : []).flatMap((entry, i) => {
      const cluster = FleetClusterSchema.safeParse(entry);
      const flagged = validated.problems.some((p) => p.path.startsWith(`clusters[${i}]`));
      return cluster.success && !flagged ? [[i, cluster.data] as const] : [];
    });
    const { problems } = await resolveClusters(wellFormed, options);
    throw new FleetFileError(file, inFileOrder([...validated.problems, ...problems]));
  }
  const resolved = await resolveFleet(validated.fleet, options);
  if (resolved.desired === undefined) throw new FleetFileError(file, resolved.problems);
  return resolved.desired;
}
