import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../cli/errors';
import * as fields from '../../../cli/fields';

const usageMessage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error('accepted');
};

describe('consulAddress', () => {
  test.each(['http://127.0.0.1:8500', 'https://consul.dc1.example.com:8501', 'https://[fd00::1]:8501/'])(
    'accepts %s',
    (address) => {
      expect(fields.consulAddress(address)).toBe(new URL(address).origin);
    },
  );

  test.each([
    'foo',
    'consul:8500',
    'ftp://consul:21',
    'https://consul.example.com',
    'http://user:pass@consul:8500',
    'http://consul:8500/v1',
    'http://consul:8500?x=1',
  ])('rejects %s, naming the flag and quoting the value', (address) => {
    expect(usageMessage(() => fields.consulAddress(address))).toBe(
      `--address: expected http(s)://host:port, got ${JSON.stringify(address)}`,
    );
  });
});

describe('hostPort', () => {
  test.each([
    ['10.0.1.10:8443', { address: '10.0.1.10', port: 8443 }],
    ['gw.dc1.example.com:443', { address: 'gw.dc1.example.com', port: 443 }],
    ['[fd00::10]:8443', { address: 'fd00::10', port: 8443 }],
  ])('parses %s', (value, expected) => {
    expect(fields.hostPort(value, '--gateway-lan')).toEqual(expected);
  });

  test.each([
    '10.0.1.10',
    '10.0.1.10:0',
    '10.0.1.10:65536',
    'fd00::10:8443',
    'http://gw:443',
    ':443',
    'gw:44x',
  ])('rejects %s', (value) => {
    expect(usageMessage(() => fields.hostPort(value, '--gateway-wan'))).toMatch(
      /^--gateway-wan: expected host:port, e\.g\. 10\.0\.1\.10:8443 or \[fd00::10\]:8443, got "/,
    );
  });
});

test('serviceNames splits commas, drops duplicates and names the bad one', () => {
  expect(fields.serviceNames(['web,api', 'web'])).toEqual(['web', 'api']);
  expect(usageMessage(() => fields.serviceNames(['web', 'bad_name']))).toMatch(
    /^--export: expected a service name .*, got "bad_name"$/,
  );
  expect(
    usageMessage(() => fields.serviceNames([Array.from({ length: 101 }, (_, i) => `s${i}`).join(',')])),
  ).toBe('--export: at most 100 services, got 101');
});

test('clusterName, partition, secretPrefix and wholeNumber name what they check', () => {
  expect(usageMessage(() => fields.clusterName('DC1', '<acceptor>'))).toMatch(
    /^<acceptor>: expected a cluster name \(a DNS label/,
  );
  expect(usageMessage(() => fields.partition('-x'))).toMatch(
    /^--partition: expected an admin partition name/,
  );
  expect(usageMessage(() => fields.secretPrefix('/abs'))).toMatch(
    /^--secret-prefix: expected a secret name prefix/,
  );
  expect(usageMessage(() => fields.wholeNumber('1.5', '--timeout', 1, 10, 'seconds'))).toBe(
    '--timeout: expected a whole number of seconds, 1-10, got "1.5"',
  );
  expect(fields.wholeNumber('10', '--timeout', 1, 10)).toBe(10);
});

describe('tokens and CA files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'peerctl-fields-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a token file holds one word; every problem is named without the content', async () => {
    const file = (name: string, content: string): string => {
      writeFileSync(join(dir, name), content, { mode: 0o600 });
      return join(dir, name);
    };
    await expect(fields.readTokenFile(file('ok', '  s3cr3t-token-value\n'))).resolves.toBe(
      's3cr3t-token-value',
    );
    await expect(fields.readTokenFile(file('empty', '\n'))).rejects.toThrow(
      /^--token-file: .*empty is empty; expected the ACL token$/,
    );
    const twoWords = fields.readTokenFile(file('two', 's3cr3t-one s3cr3t-two'));
    await expect(twoWords).rejects.toThrow(/holds more than one word/);
    await expect(twoWords).rejects.not.toThrow(/s3cr3t/);
    await expect(fields.readTokenFile(join(dir, 'absent'))).rejects.toThrow(
      /^--token-file: cannot read .*absent \(no such file\)$/,
    );
    await expect(fields.readTokenFile(dir)).rejects.toThrow(/\(it is a directory\)$/);
  });

  test('a token variable must be set, and is never quoted', () => {
    expect(fields.readTokenEnv('T', { T: 'abc-token' })).toBe('abc-token');
    expect(usageMessage(() => fields.readTokenEnv('T', {}))).toBe(
      '--token-env: environment variable T is not set',
    );
    expect(usageMessage(() => fields.readTokenEnv('T', { T: 'two words' }))).toBe(
      '--token-env: environment variable T holds more than one word; expected just the ACL token',
    );
    expect(usageMessage(() => fields.readTokenEnv('1T', {}))).toMatch(
      /^--token-env: expected the name of an environment variable/,
    );
  });

  test('a client certificate and key are read together: PEM, the key of that certificate, not expired', async () => {
    const openssl = (args: string): void => {
      execFileSync('openssl', args.split(' '), { cwd: dir, stdio: 'pipe' });
    };
    const selfSigned = (name: string, days: string): void => {
      openssl(
        `req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ${name}.key -out ${name}.pem -days ${days} -subj /CN=${name}`,
      );
    };
    selfSigned('client', '2');
    selfSigned('other', '2');
    const file = (name: string): string => join(dir, name);
    writeFileSync(file('junk.pem'), 'not PEM');

    const read = await fields.readClientCertificate(file('client.pem'), file('client.key'));
    expect(read.clientCert).toContain('-----BEGIN CERTIFICATE-----');
    expect(read.clientKey).toContain('PRIVATE KEY-----');
    await expect(fields.readClientCertificate(file('junk.pem'), file('client.key'))).rejects.toThrow(
      /^--client-cert-file: .*junk\.pem is not a PEM certificate$/,
    );
    await expect(fields.readClientCertificate(file('client.pem'), file('junk.pem'))).rejects.toThrow(
      /^--client-key-file: .*junk\.pem is not a PEM private key/,
    );
    await expect(fields.readClientCertificate(file('client.pem'), file('other.key'))).rejects.toThrow(
      /^--client-key-file: .*other\.key is not the private key of the client certificate$/,
    );
    await expect(fields.readClientCertificate(file('client.pem'), file('missing.key'))).rejects.toThrow(
      /^--client-key-file: cannot read .*missing\.key/,
    );
    // The key's text is never part of an error.
    const keyLine = read.clientKey.split('\n')[1] ?? '';
    const refused = await fields.readClientCertificate(file('client.pem'), file('other.key')).then(
      () => 'accepted',
      (error: unknown) => (error instanceof Error ? error.message : 'not an Error'),
    );
    expect(refused).toMatch(/^--client-key-file:/);
    expect(refused).not.toContain(keyLine);
  });

  test('a CA file must be a PEM certificate', async () => {
    writeFileSync(join(dir, 'ca.pem'), 'not a certificate');
    await expect(fields.readCaFile(join(dir, 'ca.pem'))).rejects.toThrow(
      /^--ca-file: .*ca\.pem is not a PEM certificate/,
    );
  });
});

test('fuzz: every validator either returns or throws a UsageError that quotes at most 40 characters', () => {
  const checks: ((value: string) => unknown)[] = [
    (v) => fields.consulAddress(v),
    (v) => fields.hostPort(v, '--gateway-lan'),
    (v) => fields.serviceNames([v]),
    (v) => fields.clusterName(v, '<name>'),
    (v) => fields.partition(v),
    (v) => fields.secretPrefix(v),
    (v) => fields.queueUrl(v, '--accept-queue-url'),
    (v) => fields.wholeNumber(v, '--timeout', 1, 100),
  ];
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.nat({ max: checks.length - 1 }), (value, i) => {
      try {
        checks[i]?.(value);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        const quoted = /got (".*")$/.exec((error as Error).message)?.[1];
        if (quoted !== undefined) expect(quoted.length).toBeLessThanOrEqual(40);
      }
    }),
    { numRuns: 2000 },
  );
});
