import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FleetFileError,
  parseFleetText,
  readFleetFile,
  validateFleet,
  type FleetProblem,
} from '../../../cli/fleet/read-fleet-file';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleet-file-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A message matching this pattern (typed for expect's object literals). */
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);

const TOKEN_1 = '11111111-2222-3333-4444-555555555555';
const TOKEN_2 = '66666666-7777-8888-9999-000000000000';
const env = { TOKEN_DC1: TOKEN_1, TOKEN_DC2: TOKEN_2 };

const FLEET_YAML = `
settings:
  timeoutSeconds: 60
clusters:
  - name: dc1
    address: http://127.0.0.1:8500/
    tokenEnv: TOKEN_DC1
    gateway:
      lan: { address: 10.1.0.10, port: 8443 }
      wan: { address: 203.0.113.10, port: 8443 }
  - name: dc2
    address: http://127.0.0.1:9500
    tokenEnv: TOKEN_DC2
peerings:
  - acceptor: dc1
    dialer: dc2
    exportServices: [web, api, web]
`;

const FLEET_JSON = JSON.stringify({
  settings: { timeoutSeconds: 60 },
  clusters: [
    {
      name: 'dc1',
      address: 'http://127.0.0.1:8500/',
      tokenEnv: 'TOKEN_DC1',
      gateway: {
        lan: { address: '10.1.0.10', port: 8443 },
        wan: { address: '203.0.113.10', port: 8443 },
      },
    },
    { name: 'dc2', address: 'http://127.0.0.1:9500', tokenEnv: 'TOKEN_DC2' },
  ],
  peerings: [{ acceptor: 'dc1', dialer: 'dc2', exportServices: ['web', 'api', 'web'] }],
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function problemsOf(
  path: string,
  environment: NodeJS.ProcessEnv = env,
): Promise<readonly FleetProblem[]> {
  const error: unknown = await readFleetFile(path, environment).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FleetFileError);
  return (error as FleetFileError).problems;
}

describe('a fleet file', () => {
  test('YAML and JSON give the same desired state: connections as stored, exports sorted and unique', async () => {
    const fromYaml = await readFleetFile(write('fleet.yaml', FLEET_YAML), env);
    const fromJson = await readFleetFile(write('fleet.json', FLEET_JSON), env);
    expect(fromJson).toEqual(fromYaml);
    expect(fromYaml).toEqual({
      settings: { timeoutSeconds: 60 },
      clusters: [
        {
          name: 'dc1',
          connection: {
            address: 'http://127.0.0.1:8500',
            token: TOKEN_1,
            gateway: {
              serviceName: 'mesh-gateway',
              lan: { address: '10.1.0.10', port: 8443 },
              wan: { address: '203.0.113.10', port: 8443 },
            },
          },
          tokenSource: 'env TOKEN_DC1',
        },
        {
          name: 'dc2',
          connection: { address: 'http://127.0.0.1:9500', token: TOKEN_2 },
          tokenSource: 'env TOKEN_DC2',
        },
      ],
      peerings: [{ acceptor: 'dc1', dialer: 'dc2', exportServices: ['api', 'web'] }],
    });
  });

  test('.yml is YAML too; another extension is a problem', () => {
    expect(parseFleetText('clusters: []', 'f.yml')).toEqual({ data: { clusters: [] }, problems: [] });
    expect(parseFleetText('clusters: []', 'f.toml').problems).toEqual([
      { path: '(file)', message: 'expected a .yaml, .yml or .json file, got ".toml"' },
    ]);
  });

  test('syntax errors name their line (YAML) or position (JSON)', () => {
    const yaml = parseFleetText('clusters:\n  - name: dc1\n   bad: [\n', 'f.yaml');
    expect(yaml.problems.length).toBeGreaterThan(0);
    expect(yaml.problems[0]?.path).toMatch(/^line \d+, column \d+$/);
    expect(parseFleetText('{"clusters": [}', 'f.json').problems).toEqual([
      { path: '(file)', message: matching(/^expected JSON, got a syntax error: /) },
    ]);
    // A key given twice is a YAML error, not a silent overwrite.
    expect(parseFleetText('clusters: []\nclusters: []\n', 'f.yaml').problems).toHaveLength(1);
  });

  test('every schema problem at once, in file order, each with its path, what was expected and what was found', () => {
    const { problems } = validateFleet({
      clusters: [
        { name: 'DC1', address: 'foo', tokenFile: 't', tokenEnv: 'T', token: 'secret-value-here' },
        {
          name: 'dc2',
          address: 'http://127.0.0.1:8500',
          caFile: 'ca.pem',
          clientCertFile: 'c.pem',
          gateway: { lan: { address: '10.0.0.1', port: 'x' } },
        },
        { name: 'dc2', address: 'https://c:8501', tokenEnv: '1BAD' },
      ],
      peerings: [
        { acceptor: 'dc2', dialer: 'dc9' },
        { acceptor: 'dc2', dialer: 'dc2', exportServices: ['web', 'bad name'] },
        { acceptor: 'dc9', dialer: 'dc2', bogus: true },
      ],
      extra: 1,
    });
    expect(problems).toEqual([
      { path: 'clusters[0].address', message: 'expected http(s)://host:port, got "foo"' },
      { path: 'clusters[0].name', message: matching(/^expected a DNS label: .*, got "DC1"$/) },
      { path: 'clusters[0].token', message: matching(/^expected no token in the file/) },
      { path: 'clusters[0].tokenEnv', message: 'expected only one of tokenFile and tokenEnv, got both' },
      {
        path: 'clusters[1].caFile',
        message: matching(/^expected no caFile with an http:\/\/ address/),
      },
      {
        path: 'clusters[1].clientCertFile',
        message: matching(/^expected no clientCertFile with an http:\/\/ address/),
      },
      {
        path: 'clusters[1].clientKeyFile',
        message: matching(/^expected clientKeyFile with clientCertFile/),
      },
      { path: 'clusters[1].gateway.lan.port', message: 'expected number, got "x"' },
      { path: 'clusters[1].gateway.wan', message: 'expected object, got nothing' },
      {
        path: 'clusters[2].name',
        message: 'expected a name not used before, got "dc2" (also clusters[1].name)',
      },
      {
        path: 'clusters[2].tokenEnv',
        message: matching(/^expected the name of an environment variable.*, got "1BAD"$/),
      },
      { path: 'extra', message: 'expected a known field, got the unknown field "extra"' },
      { path: 'peerings[0].dialer', message: 'expected a cluster named in clusters (DC1, dc2), got "dc9"' },
      {
        path: 'peerings[1].dialer',
        message: matching(/^expected another cluster than the acceptor.*got "dc2"$/),
      },
      {
        path: 'peerings[1].exportServices[1]',
        message: matching(/^expected a service name: .*, got "bad name"$/),
      },
      {
        path: 'peerings[2]',
        message: 'expected each pair of clusters once, got dc9 and dc2 again (also peerings[0])',
      },
      { path: 'peerings[2].acceptor', message: 'expected a cluster named in clusters (DC1, dc2), got "dc9"' },
      { path: 'peerings[2].bogus', message: 'expected a known field, got the unknown field "bogus"' },
    ]);
    // A value in the wrong field (the token above) is never quoted back.
    expect(JSON.stringify(problems)).not.toContain('secret-value-here');
  });

  test('clusters missing, a pair given twice (either direction), too many exports', () => {
    expect(validateFleet({}).problems).toEqual([
      { path: 'clusters', message: 'expected array, got nothing' },
    ]);
    const cluster = (name: string) => ({ name, address: 'http://a:8500' });
    const { problems } = validateFleet({
      clusters: [cluster('a'), cluster('b')],
      peerings: [
        { acceptor: 'a', dialer: 'b' },
        { acceptor: 'b', dialer: 'a' },
        { acceptor: 'a', dialer: 'b', exportServices: Array.from({ length: 101 }, (_, i) => `s${i}`) },
      ],
    });
    expect(problems.map((p) => p.path)).toEqual(['peerings[1]', 'peerings[2]', 'peerings[2].exportServices']);
    expect(problems[0]?.message).toBe(
      'expected each pair of clusters once, got b and a again (also peerings[0])',
    );
  });

  test('tokens, CA and client certificates are read relative to the file; each failure is a problem at its field', async () => {
    writeFileSync(join(dir, 'dc1.token'), `${TOKEN_1}\n`);
    writeFileSync(join(dir, 'empty.token'), '\n');
    const path = write(
      'files.yaml',
      `
clusters:
  - { name: dc1, address: "https://c1:8501", tokenFile: dc1.token, caFile: missing-ca.pem }
  - { name: dc2, address: "http://c2:8500", tokenFile: empty.token }
  - { name: dc3, address: "http://c3:8500" }
  - { name: dc4, address: "https://c4:8501", tokenEnv: TOKEN_DC2, clientCertFile: c.pem, clientKeyFile: k.pem }
`,
    );
    expect(await problemsOf(path, { TOKEN_DC2: TOKEN_2 })).toEqual([
      {
        path: 'clusters[0].caFile',
        message: `cannot read ${join(dir, 'missing-ca.pem')} (no such file)`,
      },
      {
        path: 'clusters[1].tokenFile',
        message: `${join(dir, 'empty.token')} is empty; expected the ACL token`,
      },
      {
        path: 'clusters[2].tokenEnv (default CONSUL_HTTP_TOKEN)',
        message: 'environment variable CONSUL_HTTP_TOKEN is not set',
      },
      { path: 'clusters[3].clientCertFile', message: `cannot read ${join(dir, 'c.pem')} (no such file)` },
    ]);
  });

  test('a schema problem and an unreadable token file are named together', async () => {
    const path = write(
      'both.yaml',
      `
clusters:
  - { name: dc1, address: "http://c1:8500", tokenFile: missing.token }
  - { name: dc2, address: "http://c2:8500", tokenEnv: TOKEN_DC2, caFile: ca.pem }
peerings:
  - { acceptor: dc1, dialer: dc3 }
`,
    );
    expect(await problemsOf(path)).toEqual([
      { path: 'clusters[0].tokenFile', message: `cannot read ${join(dir, 'missing.token')} (no such file)` },
      // Not also "cannot read ca.pem": a cluster with a problem of its own is not read further.
      { path: 'clusters[1].caFile', message: matching(/^expected no caFile with an http:\/\/ address/) },
      { path: 'peerings[0].dialer', message: 'expected a cluster named in clusters (dc1, dc2), got "dc3"' },
    ]);
  });

  test('a file that cannot be read is bad input', async () => {
    await expect(readFleetFile(join(dir, 'nope.yaml'), env)).rejects.toThrow(
      /^-f: cannot read .*nope\.yaml \(no such file\)$/,
    );
  });
});
