import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConsulClient } from './client';

// Real TLS handshakes on loopback: the only way to prove caCert and tlsServerName reach the
// connector. Certificates are made fresh by openssl for each run, so no key lives in the repo.

const TOKEN = '3c4d5e6f-tls-canary-7a8b9c0d1e2f';

interface Pki {
  ca: string;
  otherCa: string;
  key: string;
  cert: string;
}

let dir: string;
let pki: Pki;
let https: Server;
let http: Server;

/** Runs openssl with a command line written as one string (no argument contains a space). */
function openssl(commandLine: string): void {
  execFileSync('openssl', commandLine.trim().split(/\s+/), { cwd: dir, stdio: 'pipe' });
}

const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';

function makeCa(name: string): void {
  openssl(`req -x509 ${EC_KEY} -keyout ${name}.key -out ${name}.pem -days 2 -subj /CN=${name}
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign`);
}

function makePki(): Pki {
  makeCa('ca');
  makeCa('other-ca');
  // Consul's own server certificates are named server.<dc>.<domain>; no IP SAN on purpose.
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:server.dc1.consul,DNS:localhost\n');
  openssl(`req ${EC_KEY} -keyout server.key -out server.csr -subj /CN=server.dc1.consul`);
  openssl(`x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2
    -extfile ext.cnf`);
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return {
    ca: read('ca.pem'),
    otherCa: read('other-ca.pem'),
    key: read('server.key'),
    cert: read('server.pem'),
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

let httpsPort: number;
let httpPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'consul-tls-'));
  pki = makePki();
  const leader = (
    _req: unknown,
    res: { setHeader(k: string, v: string): void; end(body: string): void },
  ): void => {
    res.setHeader('content-type', 'application/json');
    res.end('"10.0.0.1:8300"');
  };
  https = createHttpsServer({ key: pki.key, cert: pki.cert }, leader);
  http = createHttpServer(leader);
  httpsPort = await listen(https);
  httpPort = await listen(http);
});

afterAll(async () => {
  https.closeAllConnections();
  http.closeAllConnections();
  await Promise.all([https, http].map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

async function leaderVia(options: {
  address: string;
  caCert?: string;
  tlsServerName?: string;
}): Promise<unknown> {
  const client = new ConsulClient({ token: TOKEN, retry: { maxAttempts: 1 }, timeoutMs: 5_000, ...options });
  try {
    return await client.leader();
  } catch (error) {
    return error;
  } finally {
    await client.close();
  }
}

it('trusts the agent through caCert, verifying against tlsServerName', async () => {
  await expect(
    leaderVia({
      address: `https://127.0.0.1:${httpsPort}`,
      caCert: pki.ca,
      tlsServerName: 'server.dc1.consul',
    }),
  ).resolves.toBe('10.0.0.1:8300');
});

it('fails with a TLS error naming the CA file when the CA is not given', async () => {
  const error = await leaderVia({
    address: `https://127.0.0.1:${httpsPort}`,
    tlsServerName: 'server.dc1.consul',
  });
  expect(error).toMatchObject({ kind: 'tls' });
  expect(error).toMatchObject({ retryable: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  expect((error as Error).message).toMatch(/caCert is the CA that signed/);
  expect((error as Error).message).not.toContain(TOKEN);
});

it('fails with a TLS error when caCert is another CA', async () => {
  const error = await leaderVia({
    address: `https://127.0.0.1:${httpsPort}`,
    caCert: pki.otherCa,
    tlsServerName: 'server.dc1.consul',
  });
  expect(error).toMatchObject({ kind: 'tls' });
});

it('fails with a TLS error naming the server name when the host is not in the certificate', async () => {
  const error = await leaderVia({ address: `https://127.0.0.1:${httpsPort}`, caCert: pki.ca });
  expect(error).toMatchObject({ kind: 'tls' });
  expect(error).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  expect((error as Error).message).toMatch(/tlsServerName/);
});

it('recognises https:// pointed at a plain HTTP port', async () => {
  const error = await leaderVia({ address: `https://127.0.0.1:${httpPort}`, caCert: pki.ca });
  expect(error).toMatchObject({ kind: 'tls' });
  expect((error as Error).message).toMatch(/does not speak TLS/);
});
