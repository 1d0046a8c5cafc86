/**
 * Checks of every value a person types, one function per kind of value. Each failure is a UsageError
 * that names the flag or argument and what was expected: `--address: expected http(s)://host:port,
 * got "foo"`. The shapes are the event contract's own schemas, so what passes here also passes
 * `createEvent`. Token values are read from files or variables and never quoted.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import * as z from 'zod/mini';
import { ClusterNameSchema, HostPortSchema, ServiceNameSchema, type HostPort } from '#commons/events/index';
import { preview } from '#commons/events/validation-error';
import { UsageError } from './errors';
import { isConsulAddress } from '#commons/clusters';
import { clientCertificateProblem } from '#commons/consul/client-certificate';

export const EXPECT = {
  clusterName:
    "a cluster name (a DNS label: 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)",
  address: 'http(s)://host:port',
  hostPort: 'host:port, e.g. 10.0.1.10:8443 or [fd00::10]:8443',
  serviceName: "a service name (1-63 letters, digits or '-', starting and ending with a letter or digit)",
  partition: "an admin partition name (1-63 letters, digits or '-'; Consul Enterprise only)",
  envName: 'the name of an environment variable, e.g. CONSUL_TOKEN_DC1',
  secretPrefix: "a secret name prefix: letters, digits and '/_+=.@-', not starting or ending with '/'",
  queueUrl: 'an SQS queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/onboard',
} as const;

const got = (value: string): string => `got ${preview(value)}`;
const fail = (what: string, expected: string, value: string): never => {
  throw new UsageError(`${what}: expected ${expected}, ${got(value)}`);
};

export function clusterName(value: string, what: string): string {
  if (!z.safeParse(ClusterNameSchema, value).success) fail(what, EXPECT.clusterName, value);
  return value;
}

/** `http(s)://host:port` and nothing else: no credentials, path, query or implicit port. */
export function consulAddress(value: string, what = '--address'): string {
  if (!isConsulAddress(value)) return fail(what, EXPECT.address, value);
  return new URL(value).origin;
}

/** `host:port`, `ipv4:port` or `[ipv6]:port`, as a HostPort of the event contract. */
export function hostPort(value: string, what: string): HostPort {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value);
  const address = match?.[1] ?? match?.[2];
  const parsed =
    address === undefined ? undefined : z.safeParse(HostPortSchema, { address, port: Number(match?.[3]) });
  if (parsed?.success !== true) return fail(what, EXPECT.hostPort, value);
  return parsed.data;
}

/** `--export web --export api` or `--export web,api`; duplicates dropped, order kept. */
export function serviceNames(values: readonly string[], what = '--export'): string[] {
  const names = values.flatMap((value) => value.split(',')).map((name) => name.trim());
  for (const name of names) {
    if (!z.safeParse(ServiceNameSchema, name).success) fail(what, EXPECT.serviceName, name);
  }
  const unique = [...new Set(names)];
  if (unique.length > 100) throw new UsageError(`${what}: at most 100 services, got ${unique.length}`);
  return unique;
}

export function partition(value: string, what = '--partition'): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(value)) fail(what, EXPECT.partition, value);
  return value;
}

export function envName(value: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) fail(what, EXPECT.envName, value);
  return value;
}

export function secretPrefix(value: string, what = '--secret-prefix'): string {
  if (!/^(?!\/)[A-Za-z0-9/_+=.@-]{1,256}(?<!\/)$/.test(value)) fail(what, EXPECT.secretPrefix, value);
  return value;
}

export function queueUrl(value: string, what: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname.length < 2)
    fail(what, EXPECT.queueUrl, value);
  return value;
}

/** A whole number within [min, max], e.g. `--timeout 300`. */
export function wholeNumber(value: string, what: string, min: number, max: number, unit = ''): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    fail(what, `a whole number${unit === '' ? '' : ` of ${unit}`}, ${min}-${max}`, value);
  }
  return n;
}

/** `~/x` is under the home directory; other relative paths are relative to the working directory. */
export function expandPath(path: string): string {
  if (path === '~' || path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return resolve(path);
}

const describeReadError = (error: unknown): string => {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return code ?? 'unreadable';
};

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(expandPath(path), 'utf8');
  } catch (error) {
    throw new UsageError(`${what}: cannot read ${expandPath(path)} (${describeReadError(error)})`);
  }
}

/** One word: what a token file or variable must hold. The value itself is never quoted. */
function singleToken(text: string, what: string, where: string): string {
  const token = text.trim();
  if (token === '') throw new UsageError(`${what}: ${where} is empty; expected the ACL token`);
  if (/\s/.test(token))
    throw new UsageError(`${what}: ${where} holds more than one word; expected just the ACL token`);
  if (/[^\x20-\x7e]/.test(token))
    throw new UsageError(`${what}: ${where} holds characters an ACL token cannot have`);
  return token;
}

export async function readTokenFile(path: string, what = '--token-file'): Promise<string> {
  return singleToken(await readText(path, what), what, expandPath(path));
}

export function readTokenEnv(name: string, env: NodeJS.ProcessEnv, what = '--token-env'): string {
  envName(name, what);
  const value = env[name];
  if (value === undefined) throw new UsageError(`${what}: environment variable ${name} is not set`);
  return singleToken(value, what, `environment variable ${name}`);
}

export async function readCaFile(path: string, what = '--ca-file'): Promise<string> {
  const pem = await readText(path, what);
  let valid = pem.includes('-----BEGIN CERTIFICATE-----');
  if (valid) {
    try {
      new X509Certificate(pem);
    } catch {
      valid = false;
    }
  }
  if (!valid) {
    throw new UsageError(
      `${what}: ${expandPath(path)} is not a PEM certificate; expected the CA that signed Consul's HTTPS certificate`,
    );
  }
  return pem;
}

/**
 * The client certificate and key for an agent with verify_incoming on HTTPS, read from two files and
 * checked together (PEM, the key belongs to the certificate, not expired). The key is never quoted.
 */
export async function readClientCertificate(
  certPath: string,
  keyPath: string,
  what = { cert: '--client-cert-file', key: '--client-key-file' },
): Promise<{ clientCert: string; clientKey: string }> {
  const clientCert = await readText(certPath, what.cert);
  const clientKey = await readText(keyPath, what.key);
  const found = clientCertificateProblem(clientCert, clientKey);
  if (found !== undefined) {
    const [flag, path] = found.part === 'certificate' ? [what.cert, certPath] : [what.key, keyPath];
    throw new UsageError(`${flag}: ${expandPath(path)} ${found.problem}`);
  }
  return { clientCert, clientKey };
}
