import { ConsulClient } from '#commons/consul/client';
import { parseConnection } from '#commons/clusters';
import { ValidationError } from '#commons/errors';
import { startConsulClusters, type LocalConsulCluster } from '#devkit/local-consul-cluster';

// Real Consul agents serving their API over HTTPS, with certificates made by Consul's own
// `consul tls ca create` / `consul tls cert create`: one HTTPS only, one with verify_incoming (mTLS).
// dc2's CA is a different CA from dc1's, which makes it the "wrong CA" for dc1.
let https: LocalConsulCluster;
let mtls: LocalConsulCluster;
const clients: ConsulClient[] = [];

const client = (options: ConstructorParameters<typeof ConsulClient>[0]): ConsulClient => {
  const created = new ConsulClient({ ...options, retry: { maxAttempts: 1 } });
  clients.push(created);
  return created;
};

beforeAll(async () => {
  [https] = (await startConsulClusters(1, { api: 'https', prefix: 'tls' })) as [LocalConsulCluster];
  [mtls] = (await startConsulClusters(1, { api: 'mtls', prefix: 'mtls' })) as [LocalConsulCluster];
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([https, mtls].filter(Boolean).map((c) => c.stop()));
});

test('HTTPS: the client trusts the agent through the CA in the connection secret; HTTP is off', async () => {
  expect(https.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const connection = parseConnection(
    'tls1',
    JSON.stringify({ address: https.address, token: https.managementToken, ...https.connectionTls }),
  );
  const consul = client(connection);
  expect(await consul.leader()).toMatch(/^127\.0\.0\.1:\d+$/);
  expect((await consul.caRoots()).roots.length).toBeGreaterThan(0);

  const plain = client({ address: https.address.replace('https:', 'http:'), token: https.managementToken });
  await expect(plain.leader()).rejects.toThrow(/serves HTTPS on this port but the address uses http:\/\//);
});

test('HTTPS with a wrong CA: a TLS error that says to check caCert', async () => {
  const consul = client({
    address: https.address,
    token: https.managementToken,
    caCert: mtls.tls?.caCert,
  });
  const error = await consul.leader().catch((e: unknown) => e);
  expect(error).toMatchObject({ kind: 'tls' });
  expect(String(error)).toMatch(/TLS handshake failed/);
  expect(String(error)).toMatch(/caCert/);
});

test('mTLS (verify_incoming): works with the client certificate and key from the connection secret', async () => {
  const connection = parseConnection(
    'mtls1',
    JSON.stringify({ address: mtls.address, token: mtls.managementToken, ...mtls.connectionTls }),
  );
  expect(connection.clientCert).toContain('BEGIN CERTIFICATE');
  const consul = client(connection);
  expect(await consul.leader()).toMatch(/^127\.0\.0\.1:\d+$/);
  expect((await consul.listPeerings()).length).toBe(0);
});

test('mTLS without a client certificate: a TLS error that says to set clientCert and clientKey', async () => {
  const consul = client({ address: mtls.address, token: mtls.managementToken, caCert: mtls.tls?.caCert });
  const error = await consul.leader().catch((e: unknown) => e);
  expect(error).toMatchObject({ kind: 'tls' });
  expect(String(error)).toMatch(/client certificate/);
  expect(String(error)).toMatch(/clientCert and clientKey/);
});

test('bad client certificate input names the field and never quotes the key', () => {
  const tls = mtls.tls;
  if (tls === undefined) throw new Error('the mTLS cluster has no TLS material');
  const base = { address: mtls.address, token: mtls.managementToken, caCert: tls.caCert };
  const refused = (options: Partial<ConstructorParameters<typeof ConsulClient>[0]>): ValidationError => {
    try {
      client({ ...base, ...options });
    } catch (error) {
      if (error instanceof ValidationError) return error;
      throw error;
    }
    throw new Error('accepted');
  };
  expect(refused({ clientCert: tls.clientCert }).field).toBe('clientKey');
  expect(refused({ clientKey: tls.clientKey }).field).toBe('clientCert');
  expect(refused({ clientCert: 'not a pem', clientKey: tls.clientKey }).message).toMatch(
    /clientCert is not a PEM certificate/,
  );
  const wrongKey = refused({ clientCert: tls.clientCert, clientKey: https.tls?.clientKey ?? '' });
  expect(wrongKey.message).toMatch(/clientKey is not the private key of the client certificate/);
  expect(wrongKey.message).not.toContain('PRIVATE KEY');
  expect(() =>
    parseConnection(
      'mtls1',
      JSON.stringify({ address: mtls.address, token: 't', clientCert: tls.clientCert }),
    ),
  ).toThrow(/invalid at "clientKey": clientCert and clientKey go together/);
});
