import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterSecretName } from '#commons/naming';
import { FileSecretStore } from '#commons/local/file-secret-store';
import { COMMANDS } from '../../../cli/peerctl';
import { peerctl } from './run-peerctl';

let dir: string;
let secretsFile: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'peerctl-main-'));
  secretsFile = join(dir, 'secrets.json');
  // Registered clusters, for the checks that look at the secret store (nothing here reaches Consul).
  const store = new FileSecretStore({ path: secretsFile });
  for (const name of ['dc1', 'dc2'])
    await store.put(
      clusterSecretName('consul-peering', name),
      JSON.stringify({ address: 'http://127.0.0.1:1', token: `${name}-token-xxxxxxxx` }),
    );
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('help', () => {
  test('--help lists every command; no arguments prints it on stderr with exit 2', async () => {
    const help = await peerctl(['--help']);
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toContain(command.name);
    expect(help.stdout).toMatch(/exit codes[\s\S]*3\s+plan found drift/);
    const none = await peerctl([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: peerctl <command>');
  });

  test.each(COMMANDS.map((c) => [c.name]))('"%s --help" teaches with examples', async (name) => {
    const run = await peerctl([...name.split(' '), '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^usage: peerctl ${name}`));
    expect(run.stdout).toMatch(/\nexamples\n {2}peerctl /);
    expect(await peerctl(['help', ...name.split(' ')])).toEqual(run);
  });

  test('--help wins over bad flags', async () => {
    expect((await peerctl(['peer', '--bogus', '-h'])).code).toBe(0);
  });
});

/** Exit 2 and this message (after "peerctl <command>: "). */
async function expectUsage(
  argv: string[],
  message: string | RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<void> {
  const run = await peerctl(argv, env);
  expect({ argv, code: run.code, stdout: run.stdout }).toEqual({ argv, code: 2, stdout: '' });
  const [first, second] = run.stderr.split('\n');
  if (typeof message === 'string') expect(first).toMatch(new RegExp(`^peerctl [a-z ]+: ${escape(message)}$`));
  else expect(first).toMatch(message);
  expect(second).toMatch(/^run "peerctl( [a-z ]+)? --help" for usage$/);
}
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bad input exits 2 and names the field', () => {
  const local = (): string[] => ['--secrets-file', secretsFile];

  test('commands', async () => {
    await expectUsage(
      ['frobnicate'],
      /^peerctl: unknown command "frobnicate" \(commands: cluster, peer, mesh, status/,
    );
    await expectUsage(['cluster'], /^peerctl: cluster: expected a subcommand: add$/);
    await expectUsage(
      ['cluster', 'remove', 'dc1'],
      /^peerctl: cluster: unknown subcommand "remove"; expected: add$/,
    );
    await expectUsage(['--aws', 'status'], /^peerctl: expected a command before the options/);
  });

  test('flags', async () => {
    await expectUsage(['status', '--jsn'], 'unknown option --jsn (did you mean --json?)');
    await expectUsage(['peer', 'dc1', 'dc2', '--wait=yes'], '--wait takes no value');
    await expectUsage(['cluster', 'add', 'dc1', '--address'], '--address: expected a value');
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', '--aws'],
      '--address: expected a value, got the option "--aws"',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--token', 'x'],
      /--token: a token is never passed on the command line/,
    );
    await expectUsage(['cluster', 'add', 'dc1', '--token=s3cr3t'], /--token: a token is never passed/);
  });

  test('cluster add', async () => {
    await expectUsage(['cluster', 'add'], 'missing <name>');
    await expectUsage(
      ['cluster', 'add', 'Dc1', '--address', 'http://c:8500'],
      /<name>: expected a cluster name \(a DNS label.*got "Dc1"$/,
    );
    await expectUsage(['cluster', 'add', 'dc1'], "--address: required (Consul's API, http(s)://host:port)");
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'foo'],
      '--address: expected http(s)://host:port, got "foo"',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--token-file', 'f', '--token-env', 'T'],
      '--token-file, --token-env: give only one of them',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--ca-file', 'ca.pem'],
      '--ca-file: only used with an https:// --address',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'https://c:8501', '--client-cert-file', 'c.pem'],
      '--client-key-file: required with --client-cert-file (a client certificate and its key go together)',
    );
    await expectUsage(
      [
        'cluster',
        'add',
        'dc1',
        '--address',
        'http://c:8500',
        '--client-cert-file',
        'c.pem',
        '--client-key-file',
        'k.pem',
      ],
      '--client-cert-file: only used with an https:// --address',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--gateway-lan', '10.0.0.1:8443'],
      '--gateway-wan: required with --gateway-lan (give both addresses of the gateway, or neither)',
    );
    await expectUsage(
      [
        'cluster',
        'add',
        'dc1',
        '--address',
        'http://c:8500',
        '--gateway-lan',
        '10.0.0.1',
        '--gateway-wan',
        '10.0.0.1:1',
      ],
      /^peerctl cluster add: --gateway-lan: expected host:port, .*got "10\.0\.0\.1"$/,
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', ...local()],
      '--token-env (default CONSUL_HTTP_TOKEN): environment variable CONSUL_HTTP_TOKEN is not set',
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--token-env', 'T', '--aws'],
      '--onboard-queue-url: required with --aws for "cluster add" (or set ONBOARD_QUEUE_URL)',
      { T: 'token' },
    );
    await expectUsage(
      ['cluster', 'add', 'dc1', '--address', 'http://c:8500', '--token-env', 'T', '--aws'],
      /^peerctl cluster add: ONBOARD_QUEUE_URL: expected an SQS queue URL/,
      { T: 'token', ONBOARD_QUEUE_URL: 'nope' },
    );
  });

  test('peer, mesh, regenerate', async () => {
    await expectUsage(['peer', 'dc1'], 'missing <dialer>');
    await expectUsage(
      ['peer', 'dc1', 'dc1'],
      '<dialer>: "dc1" is also the acceptor; a cluster cannot peer with itself',
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--export', 'web', 'api'],
      'unexpected argument #3 (expected <acceptor> <dialer>); to export several services repeat --export or separate them with commas',
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--export', 'web,'],
      '--export: expected a service name (1-63 letters, digits or \'-\', starting and ending with a letter or digit), got ""',
    );
    await expectUsage(
      ['peer', 'dc1', 'dc3', ...local()],
      /unknown cluster "dc3": there is no connection secret consul-peering\/clusters\/dc3; register it first/,
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--aws', '--secrets-file', 'x'],
      '--secrets-file: only for the local backend; with --aws secrets are in Secrets Manager',
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--accept-queue-url', 'https://sqs/q'],
      '--accept-queue-url: only with --aws (the local backend has its own queues)',
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--aws', '--timeout', '60'],
      '--timeout: only with --wait (with --aws, peerctl returns once published)',
      { ACCEPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/accept' },
    );
    await expectUsage(
      ['peer', 'dc1', 'dc2', '--timeout', '0', ...local()],
      '--timeout: expected a whole number of seconds, 1-86400, got "0"',
    );
    await expectUsage(['mesh', 'dc1'], 'expected at least two clusters');
    await expectUsage(['mesh', 'dc1', 'dc2', 'dc1'], '<cluster>: "dc1" is given twice');
    await expectUsage(['mesh', 'dc1', 'DC2'], /<cluster> #2: expected a cluster name/);
    await expectUsage(
      ['regenerate', 'dc1', 'dc2', ...local()],
      /no peering dc1 -> dc2 was requested .*request it with "peerctl peer dc1 dc2"$/,
    );
  });

  test('status, plan, remediate, unpeer', async () => {
    await expectUsage(['status', 'dc1', 'dc2'], 'unexpected argument #2 (expected <cluster>)');
    await expectUsage(
      ['status', 'dc7', ...local()],
      '<cluster>: unknown cluster "dc7" (registered: dc1, dc2)',
    );
    await expectUsage(
      ['status', '--concurrency', '65'],
      '--concurrency: expected a whole number, 1-64, got "65"',
    );
    await expectUsage(['plan', 'now'], 'unexpected argument #1 (expected none)');
    await expectUsage(
      ['plan', '--pending-too-long', '-1'],
      /--pending-too-long: expected a value, got the option "-1"/,
    );
    await expectUsage(
      ['remediate', '--aws'],
      '--onboard-queue-url: required with --aws for "remediate" (or set ONBOARD_QUEUE_URL)',
    );
    await expectUsage(
      ['unpeer', 'dc1', 'dc1'],
      '<cluster> #2: "dc1" is also #1; a cluster is never peered with itself',
    );
    await expectUsage(['unpeer', 'dc1', 'dc9', ...local()], /^peerctl unpeer: unknown cluster "dc9"/);
    await expectUsage(
      ['status', '--secret-prefix', 'a//'],
      /^peerctl status: --secret-prefix: expected a secret name prefix/,
    );
    await expectUsage(
      ['status', ...local()],
      /^peerctl status: RETRY_CAP_SECONDS must be a non-negative integer$/,
      {
        RETRY_CAP_SECONDS: 'soon',
      },
    );
  });
});

test('fuzz: a stray argument is never echoed (it may be a token pasted in the wrong place)', async () => {
  await fc.assert(
    // Token-shaped values (UUIDs, base64): never a leading '-', which would make the value an option
    // by definition (and an unknown option is rightly named in the error).
    fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9+/=][A-Za-z0-9+/=-]{15,63}$/), async (token) => {
      for (const argv of [
        ['peer', 'dc1', 'dc2', token],
        ['cluster', 'add', 'dc1', token],
        ['status', 'dc1', token],
        ['unpeer', 'dc1', 'dc2', token],
      ]) {
        const run = await peerctl(argv);
        expect(run.code).toBe(2);
        expect(run.stderr).not.toContain(token);
      }
    }),
    { numRuns: 50 },
  );
});
