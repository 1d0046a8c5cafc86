import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerctl } from './run-peerctl';

// `peerctl apply` through main(), up to the point where it would reach Consul: the file's checks,
// the plan and --dry-run (nothing here has a Consul to talk to; test/integration/apply.test.ts does).
let dir: string;
let secretsFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'peerctl-apply-'));
  secretsFile = join(dir, 'secrets.json');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const env = { TOKEN_DC1: '11111111-2222-3333-4444-555555555555', TOKEN_DC2: 'secret-token-of-dc2-0123' };
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const GOOD = `
clusters:
  - { name: dc1, address: "http://127.0.0.1:1", tokenEnv: TOKEN_DC1 }
  - { name: dc2, address: "http://127.0.0.1:2", tokenEnv: TOKEN_DC2 }
peerings:
  - { acceptor: dc1, dialer: dc2, exportServices: [web] }
`;

test('a bad file: exit 2, every problem on stderr, no secret file written', async () => {
  const bad = file(
    'bad.yaml',
    `
clusters:
  - { name: dc1, address: "http://127.0.0.1:1", tokenEnv: TOKEN_DC1 }
  - { name: dc1, address: "http://127.0.0.1:2" }
peerings:
  - { acceptor: dc1, dialer: dc2 }
  - { acceptor: dc3, dialer: dc1, exportServices: web }
`,
  );
  const run = await peerctl(['apply', '-f', bad, '--secrets-file', secretsFile], env);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.split('\n')).toEqual([
    `peerctl apply: ${bad}: 4 problem(s), nothing was changed`,
    '  clusters[1].name: expected a name not used before, got "dc1" (also clusters[0].name)',
    '  peerings[0].dialer: expected a cluster named in clusters (dc1), got "dc2"',
    '  peerings[1].acceptor: expected a cluster named in clusters (dc1), got "dc3"',
    '  peerings[1].exportServices: expected array, got "web"',
    'run "peerctl apply --help" for usage',
  ]);
  await expect(readFile(secretsFile)).rejects.toThrow(/ENOENT/);
});

test('--dry-run prints the plan (as JSON with --json) and writes nothing; tokens are never printed', async () => {
  const good = file('fleet.yaml', GOOD);
  const dry = await peerctl(['apply', '-f', good, '--dry-run', '--secrets-file', secretsFile], env);
  expect(dry.code).toBe(0);
  expect(dry.stdout.split('\n').slice(1)).toEqual([
    'clusters',
    '  + dc1  register (new)',
    '  + dc2  register (new)',
    'peerings',
    '  + dc1 -> dc2  request (exports: web)',
    '2 to register, 1 to request, 0 to change, 0 to delete',
  ]);
  const json = await peerctl(
    ['apply', '-f', good, '--dry-run', '--json', '--secrets-file', secretsFile],
    env,
  );
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({
    changes: 3,
    clusters: [
      { name: 'dc1', action: 'register', why: 'new' },
      { name: 'dc2', action: 'register', why: 'new' },
    ],
    peerings: [{ acceptor: 'dc1', dialer: 'dc2', exportServices: ['web'], action: 'request' }],
    deletions: { peerings: [], clusters: [] },
  });
  await expect(readFile(secretsFile)).rejects.toThrow(/ENOENT/);
  for (const run of [dry, json]) expect(run.stdout + run.stderr).not.toContain('secret-token-of-dc2');
});

test('usage: -f is required, --json only with --dry-run, no positionals', async () => {
  expect((await peerctl(['apply'], env)).stderr).toMatch(/^peerctl apply: -f, --file: required/);
  const good = file('fleet2.yaml', GOOD);
  expect((await peerctl(['apply', '-f', good, '--json'], env)).stderr).toMatch(
    /^peerctl apply: --json: only with --dry-run/,
  );
  const stray = await peerctl(['apply', good], env);
  expect(stray.code).toBe(2);
  expect(stray.stderr).toMatch(
    /unexpected argument #1 \(expected none\); the fleet file is given with -f FILE/,
  );
});
