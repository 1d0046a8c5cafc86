import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { synthStack } from '../testing/synth';

// The one test that really bundles: every function with the local esbuild, as `cdk synth` does.
jest.setTimeout(120_000);

const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  ONBOARD_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/onboard',
  ACCEPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/accept',
  DIAL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dial',
  OUTCOME_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/outcomes',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters',
};

describe('function bundles', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-bundling-test-'));
  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('bundles every function into an ESM file with a source map that loads on Node 22 and exports handler', () => {
    const { template } = synthStack({ bundle: true, outdir });
    const functions = Object.values(
      template.findResources('AWS::Lambda::Function') as Record<
        string,
        { Properties: { Code: { S3Key: string } } }
      >,
    );
    expect(functions).toHaveLength(3);
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
          env: { PATH: process.env.PATH, ...LAMBDA_ENV },
          encoding: 'utf8',
        },
      );
      expect(output).toBe('function');
    }
  });
});
