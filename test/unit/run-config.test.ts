import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadRunConfig,
  parseRunConfig,
  resolveRunConfig,
  RunConfigError,
  type ConfigProblem,
} from '../../local/run-config';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'peering.config.json');

const cluster = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  address: 'http://127.0.0.1:8500',
  tokenEnv: `TOKEN_${name.toUpperCase()}`,
  ...extra,
});
const valid = () => ({
  clusters: [cluster('dc1'), cluster('dc2')],
  peerings: [{ acceptor: 'dc1', dialer: 'dc2' }],
});

/** The problems a config is rejected with (fails the test when it is accepted). */
function problemsOf(input: unknown): readonly ConfigProblem[] {
  try {
    parseRunConfig(input);
  } catch (error) {
    if (error instanceof RunConfigError) return error.problems;
    throw error;
  }
  throw new Error('the config was accepted');
}

async function resolveProblems(promise: Promise<unknown>): Promise<readonly ConfigProblem[]> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RunConfigError) return error.problems;
    throw error;
  }
  throw new Error('the config was accepted');
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'run-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parseRunConfig: the format', () => {
  it('accepts the documented example', () => {
    const config = parseRunConfig(JSON.parse(readFileSync(EXAMPLE, 'utf8')));
    expect(config.clusters.map((c) => c.name)).toEqual(['dc1', 'dc2']);
    expect(config.clusters[0]).toMatchObject({ tokenEnv: 'CONSUL_TOKEN_DC1', caFile: 'certs/dc1-ca.pem' });
    expect(config.clusters[1]?.gateway?.wan).toEqual({ address: '198.51.100.20', port: 8443 });
    expect(config.peerings).toEqual([{ acceptor: 'dc1', dialer: 'dc2' }]);
  });

  it('accepts a minimal config (no prefix, no CA, no gateway)', () => {
    expect(parseRunConfig(valid()).secretPrefix).toBeUndefined();
  });

  it.each([
    ['not an object', [], '', 'expected a JSON object'],
    ['clusters missing', { peerings: valid().peerings }, 'clusters', 'missing; expected a list of clusters'],
    ['one cluster', { ...valid(), clusters: [cluster('dc1')] }, 'clusters', 'expected at least two clusters'],
    ['no peering', { ...valid(), peerings: [] }, 'peerings', 'expected at least one peering'],
    [
      'bad secret prefix',
      { ...valid(), secretPrefix: 'a/' },
      'secretPrefix',
      'expected a secret name prefix',
    ],
  ])('rejects the top level: %s', (_, input, path, message) => {
    expect(problemsOf(input)).toEqual([{ path, message: expect.stringContaining(message) as string }]);
  });

  it.each([
    ['name not a DNS label', { name: 'DC_1' }, 'clusters[1].name', 'expected a DNS label'],
    [
      'address without scheme',
      { address: 'consul:8500' },
      'clusters[1].address',
      'expected http(s)://host:port',
    ],
    [
      'address without port',
      { address: 'https://consul' },
      'clusters[1].address',
      'expected http(s)://host:port',
    ],
    [
      'address with a path',
      { address: 'https://consul:8501/v1' },
      'clusters[1].address',
      'expected http(s)://host:port',
    ],
    [
      'address with credentials',
      { address: 'https://u:p@consul:8501' },
      'clusters[1].address',
      'expected http(s)',
    ],
    [
      'bad env name',
      { tokenEnv: 'MY-TOKEN' },
      'clusters[1].tokenEnv',
      'expected the name of an environment variable',
    ],
    [
      'empty token file',
      { tokenEnv: undefined, tokenFile: '' },
      'clusters[1].tokenFile',
      'expected a file path',
    ],
    ['bad partition', { partition: 'a b' }, 'clusters[1].partition', 'expected an admin partition name'],
    [
      'port as a string',
      { gateway: { lan: { address: 'a', port: '1' }, wan: { address: 'b', port: 2 } } },
      'clusters[1].gateway.lan.port',
      'expected a port number 1-65535',
    ],
    [
      'port out of range',
      { gateway: { lan: { address: 'a', port: 1 }, wan: { address: 'b', port: 70000 } } },
      'clusters[1].gateway.wan.port',
      'expected a port number',
    ],
    [
      'gateway address with scheme',
      { gateway: { lan: { address: 'http://a', port: 1 }, wan: { address: 'b', port: 2 } } },
      'clusters[1].gateway.lan.address',
      'expected a hostname or an IP address',
    ],
    [
      'gateway without wan',
      { gateway: { lan: { address: 'a', port: 1 } } },
      'clusters[1].gateway.wan',
      'missing; expected {"address": host, "port": number}',
    ],
    [
      'bad service name',
      { gateway: { serviceName: 'mesh gw', lan: { address: 'a', port: 1 }, wan: { address: 'b', port: 2 } } },
      'clusters[1].gateway.serviceName',
      'expected a service name',
    ],
  ])('rejects a cluster: %s', (_, change, path, message) => {
    const input = valid();
    input.clusters[1] = { ...cluster('dc2'), ...change } as ReturnType<typeof cluster>;
    expect(problemsOf(JSON.parse(JSON.stringify(input)))).toEqual([
      { path, message: expect.stringContaining(message) as string },
    ]);
  });

  it('names an unknown key and the keys that are allowed', () => {
    const input = valid();
    input.clusters[0] = { ...cluster('dc1'), adress: 'x' } as ReturnType<typeof cluster>;
    expect(problemsOf(input)).toEqual([
      {
        path: 'clusters[0].adress',
        message: expect.stringMatching(
          /^unknown key; expected one of "name", "address", .*"gateway"$/,
        ) as string,
      },
    ]);
  });

  it('refuses a token written in the config file, and says where it goes instead', () => {
    const input = valid();
    input.clusters[0] = { ...cluster('dc1'), token: 'secret-value' } as ReturnType<typeof cluster>;
    const problems = problemsOf(input);
    expect(problems).toEqual([
      {
        path: 'clusters[0].token',
        message: expect.stringContaining('must not be in the config file') as string,
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain('secret-value');
  });

  it('requires exactly one of tokenFile and tokenEnv', () => {
    const input = valid();
    input.clusters[0] = { ...cluster('dc1'), tokenEnv: undefined } as unknown as ReturnType<typeof cluster>;
    input.clusters[1] = { ...cluster('dc2'), tokenFile: 'dc2.token' } as ReturnType<typeof cluster>;
    expect(problemsOf(JSON.parse(JSON.stringify(input)))).toEqual([
      { path: 'clusters[0]', message: expect.stringContaining('expected "tokenFile"') as string },
      { path: 'clusters[1]', message: 'expected only one of "tokenFile" and "tokenEnv"' },
    ]);
  });

  it('refuses a CA file with an http:// address', () => {
    const input = valid();
    input.clusters[0] = { ...cluster('dc1'), caFile: 'ca.pem' } as ReturnType<typeof cluster>;
    expect(problemsOf(input)).toEqual([
      { path: 'clusters[0].caFile', message: 'only used with an https:// address' },
    ]);
  });

  it('refuses duplicate cluster names', () => {
    const input = { ...valid(), clusters: [cluster('dc1'), cluster('dc2'), cluster('dc1')] };
    expect(problemsOf(input)).toEqual([
      { path: 'clusters[2].name', message: 'duplicate cluster name "dc1" (also clusters[0])' },
    ]);
  });

  it('refuses peerings with undefined clusters, with itself, twice, and clusters in no peering', () => {
    const input = {
      clusters: [cluster('dc1'), cluster('dc2'), cluster('dc3')],
      peerings: [
        { acceptor: 'dc1', dialer: 'dc9' },
        { acceptor: 'dc2', dialer: 'dc2' },
        { acceptor: 'dc1', dialer: 'dc2' },
        { acceptor: 'dc2', dialer: 'dc1' },
      ],
    };
    expect(problemsOf(input)).toEqual([
      { path: 'clusters[2]', message: 'cluster "dc3" is in no peering; add a peering for it or remove it' },
      { path: 'peerings[0].dialer', message: 'no cluster named "dc9"; expected one of "dc1", "dc2", "dc3"' },
      {
        path: 'peerings[1]',
        message: expect.stringContaining('acceptor and dialer are both "dc2"') as string,
      },
      { path: 'peerings[3]', message: expect.stringContaining('already peered by peerings[2]') as string },
    ]);
  });

  it('reports every problem at once, with the JSON path of each', () => {
    const error = (() => {
      try {
        parseRunConfig(
          { clusters: [cluster('dc1', { address: 'x' }), cluster('dc2', { name: 7 })], peerings: [{}] },
          'p.json',
        );
      } catch (e) {
        return e as RunConfigError;
      }
      throw new Error('accepted');
    })();
    expect(error.problems.map((p) => p.path)).toEqual([
      'clusters[0].address',
      'clusters[1].name',
      'peerings[0].acceptor',
      'peerings[0].dialer',
    ]);
    expect(error.message).toMatch(
      /^p\.json: 4 problems\n {2}clusters\[0\]\.address: expected http\(s\):\/\/host:port/,
    );
    expect(error.field).toBe('clusters[0].address');
  });
});

describe('resolveRunConfig: tokens and CA files', () => {
  it('reads a token from the environment and another from a file (trimmed), relative to the config', async () => {
    writeFileSync(join(dir, 'dc2.token'), '  token-two\n');
    const input = valid();
    input.clusters[1] = {
      ...cluster('dc2'),
      tokenEnv: undefined,
      tokenFile: 'dc2.token',
    } as unknown as ReturnType<typeof cluster>;
    const config = await resolveRunConfig(parseRunConfig(JSON.parse(JSON.stringify(input))), {
      baseDir: dir,
      env: { TOKEN_DC1: 'token-one' },
    });
    expect(config.secretPrefix).toBe('consul-peering');
    expect(config.clusters).toEqual([
      {
        name: 'dc1',
        connection: { address: 'http://127.0.0.1:8500', token: 'token-one' },
        tokenSource: 'env TOKEN_DC1',
      },
      {
        name: 'dc2',
        connection: { address: 'http://127.0.0.1:8500', token: 'token-two' },
        tokenSource: `file ${join(dir, 'dc2.token')}`,
      },
    ]);
  });

  it('names a missing token file, an unset or empty variable, and never a token', async () => {
    writeFileSync(join(dir, 'empty.token'), '\n');
    const config = parseRunConfig({
      clusters: [
        cluster('dc1', { tokenEnv: undefined, tokenFile: 'missing.token' }),
        cluster('dc2'),
        cluster('dc3', { tokenEnv: 'EMPTY' }),
        cluster('dc4', { tokenEnv: undefined, tokenFile: join(dir, 'empty.token') }),
      ].map((c) => JSON.parse(JSON.stringify(c)) as unknown),
      peerings: [
        { acceptor: 'dc1', dialer: 'dc2' },
        { acceptor: 'dc3', dialer: 'dc4' },
      ],
    });
    expect(await resolveProblems(resolveRunConfig(config, { baseDir: dir, env: { EMPTY: ' ' } }))).toEqual([
      { path: 'clusters[0].tokenFile', message: `cannot read ${join(dir, 'missing.token')} (no such file)` },
      { path: 'clusters[1].tokenEnv', message: 'environment variable TOKEN_DC2 is not set' },
      { path: 'clusters[2].tokenEnv', message: 'environment variable EMPTY is empty' },
      {
        path: 'clusters[3].tokenFile',
        message: `${join(dir, 'empty.token')} is empty; expected the ACL token`,
      },
    ]);
  });

  it('puts the CA file into the connection secret as caCert, and refuses a file that is no certificate', async () => {
    execFileSync(
      'openssl',
      'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca'.split(
        ' ',
      ),
      { cwd: dir, stdio: 'pipe' },
    );
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    const https = (name: string, caFile: string) =>
      cluster(name, { address: 'https://consul.example.com:8501', caFile, partition: 'team-a' });
    const config = parseRunConfig({
      ...valid(),
      clusters: [https('dc1', 'ca.pem'), https('dc2', 'not-a-cert.pem')],
    });
    const env = { TOKEN_DC1: 't1', TOKEN_DC2: 't2' };
    expect(await resolveProblems(resolveRunConfig(config, { baseDir: dir, env }))).toEqual([
      {
        path: 'clusters[1].caFile',
        message: expect.stringContaining('not-a-cert.pem is not a PEM certificate') as string,
      },
    ]);

    const good = parseRunConfig({
      ...valid(),
      clusters: [https('dc1', 'ca.pem'), https('dc2', join(dir, 'ca.pem'))],
    });
    const resolved = await resolveRunConfig(good, { baseDir: dir, env });
    expect(resolved.clusters[0]?.connection).toEqual({
      address: 'https://consul.example.com:8501',
      token: 't1',
      caCert: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      partition: 'team-a',
    });
  });
});

describe('loadRunConfig', () => {
  it('loads a file end to end, with the secret prefix and gateway', async () => {
    const file = join(dir, 'peering.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...valid(),
        secretPrefix: 'team-a/peering',
        clusters: [
          cluster('dc1', {
            gateway: {
              lan: { address: '10.0.0.1', port: 8443 },
              wan: { address: 'gw.example.com', port: 443 },
            },
          }),
          cluster('dc2'),
        ],
      }),
    );
    const config = await loadRunConfig(file, { env: { TOKEN_DC1: 'a', TOKEN_DC2: 'b' } });
    expect(config.secretPrefix).toBe('team-a/peering');
    expect(config.clusters[0]?.gateway).toEqual({
      lan: { address: '10.0.0.1', port: 8443 },
      wan: { address: 'gw.example.com', port: 443 },
    });
    // The connection secret carries the gateway too (the automation re-registers it from there).
    expect(config.clusters[0]?.connection.gateway).toEqual({
      serviceName: 'mesh-gateway',
      lan: { address: '10.0.0.1', port: 8443 },
      wan: { address: 'gw.example.com', port: 443 },
    });
    expect(config.clusters[1]?.connection.gateway).toBeUndefined();
    expect(config.peerings).toEqual([{ acceptor: 'dc1', dialer: 'dc2' }]);
  });

  it('says when the file is missing or not JSON', async () => {
    expect(await resolveProblems(loadRunConfig(join(dir, 'nope.json')))).toEqual([
      { path: '', message: 'cannot read the config file (no such file)' },
    ]);
    writeFileSync(join(dir, 'broken.json'), '{"clusters": [');
    expect(await resolveProblems(loadRunConfig(join(dir, 'broken.json')))).toEqual([
      { path: '', message: expect.stringMatching(/^not valid JSON \(/) as string },
    ]);
  });
});
