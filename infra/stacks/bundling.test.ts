import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FUNCTION_NAMES } from '../constructs/bundle-options';
import { synthStack } from '../testing/synth';

// The one test that really bundles: every function with the local esbuild, as `cdk synth` does.
jest.setTimeout(120_000);

type FunctionResource = {
  Properties: {
    Code: { S3Key: string };
    Environment: { Variables: Record<string, unknown> };
  };
};

/**
 * The environment the stack gives the function, with each deploy-time reference (a queue URL) replaced
 * by an example value, so the module-scope wiring (required variables, allow-list parsing) runs as in
 * Lambda. Slack allow lists from context, so they are parsed too.
 */
function lambdaEnvironment(fn: FunctionResource): Record<string, string> {
  const env: Record<string, string> = { AWS_REGION: 'eu-west-1' };
  for (const [name, value] of Object.entries(fn.Properties.Environment.Variables)) {
    env[name] =
      typeof value === 'string'
        ? value
        : `https://sqs.eu-west-1.amazonaws.com/123456789012/${name.toLowerCase().replaceAll('_', '-')}`;
  }
  return env;
}

describe('function bundles', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-bundling-test-'));
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('bundles every function into an ESM file with a source map that loads on Node 22 and exports handler', () => {
    const { template } = synthStack({
      bundle: true,
      outdir,
      context: {
        'consulPeering:slackAllowedUserIds': 'U024BE7LH',
        'consulPeering:slackAllowedChannelIds': 'C024BE91L',
      },
    });
    const functions = Object.values(
      template.findResources('AWS::Lambda::Function') as Record<string, FunctionResource>,
    );
    // Every function the stack deploys, which is every entry of FUNCTION_NAMES (the bundle report's list).
    expect(functions).toHaveLength(FUNCTION_NAMES.length);
    expect(new Set(functions.map((fn) => fn.Properties.Code.S3Key)).size).toBe(FUNCTION_NAMES.length);
    expect(process.version).toMatch(/^v22\./);

    for (const fn of functions) {
      const assetDir = path.join(outdir, `asset.${fn.Properties.Code.S3Key.replace(/\.zip$/, '')}`);
      const bundle = path.join(assetDir, 'index.mjs');
      expect(existsSync(bundle)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(statSync(bundle).size).toBeGreaterThan(10_000);

      // Import the artifact as Lambda would (module scope wiring runs), in a fresh Node process.
      const probe = `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); process.stdout.write(typeof m.handler);`;
      const output = execFileSync(
        process.execPath,
        ['--enable-source-maps', '--input-type=module', '-e', probe],
        {
          env: { PATH: process.env.PATH, ...lambdaEnvironment(fn) },
          encoding: 'utf8',
        },
      );
      expect(output).toBe('function');
    }
  });
});
