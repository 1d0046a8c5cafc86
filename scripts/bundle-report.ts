/**
 * How heavy each Lambda function is, as deployed: bundles every function entry with esbuild using the
 * construct's own options (infra/constructs/bundle-options.ts: minified ESM for node22, AWS SDK inside,
 * external source map), then measures the module init time of each bundle, the median of several
 * `import()`s, each in a fresh Node process with the Lambda environment variables and the deployed
 * NODE_OPTIONS (--enable-source-maps). The median without source maps is reported beside it, since
 * that flag is the one init cost we choose in the stack rather than in the code.
 *
 * Then the same bundles' cold starts in the Lambda runtime (aws-lambda-rie + aws-lambda-ric on Node 22,
 * see scripts/bench/cold-start.ts): the emulator's Init Duration and init + first invocation, medians
 * of the same number of cold starts. Every figure is also given as a ratio to a reference bundle
 * (`@aws-sdk/client-sqs` alone, bundled the same way) measured in the same run, since absolute times
 * drift between machines and days.
 *
 *   npm run bundle-report               a table
 *   npm run bundle-report -- --json     one JSON object
 *   npm run bundle-report -- --explain  plus what weighs (esbuild metafile: packages and files by bytes)
 *   npm run bundle-report -- --runs 11  imports per function (default 7)
 *
 * Budgets (per function): bundle <= 800 KiB, module init <= 1.35x the reference bundle's, measured in
 * the same run (absolute times drift 2x between days here). Reported, never enforced: exit code 0.
 * Run it through npm/npx so `node` is the project's Node 22 (the Lambda runtime's major).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import {
  FUNCTION_BUNDLE,
  FUNCTION_NAMES,
  functionEntry,
  type FunctionName,
} from '../infra/constructs/bundle-options';
import { resolveLambdaRuntime, type LambdaRuntime } from '#devkit/lambda-emulator';
import { measureColdStart, startEmptyAwsEndpoint, type ColdStart } from './bench/cold-start';
import { median } from './bench/support';

const BUDGET = { bytes: 800 * 1024, moduleInitRatioToReference: 1.35 } as const;
const TOP = 12;

interface Options {
  json: boolean;
  explain: boolean;
  runs: number;
}

interface Weight {
  name: string;
  bytes: number;
}

type Stats = { median: number; min: number; max: number; runs: number[] };

interface FunctionReport {
  name: FunctionName | typeof REFERENCE.name;
  bytes: number;
  gzipBytes: number;
  /** As deployed: NODE_OPTIONS=--enable-source-maps. */
  initMs: { median: number; min: number; max: number; runs: number[] };
  initMsWithoutSourceMaps: { median: number; min: number; max: number; runs: number[] };
  /**
   * Cold starts in the Lambda runtime (emulator + runtime client, Node 22), each in a fresh emulator:
   * the init phase as the emulator reports it, the first invocation, and both together (what a cold
   * request pays).
   */
  lambda: { initDurationMs: Stats; firstInvokeMs: Stats; initPlusFirstInvokeMs: Stats };
  /** Medians divided by the reference bundle's, measured in the same run. */
  ratioToReference: { moduleInitMs: number; initDurationMs: number; initPlusFirstInvokeMs: number };
  withinBudget: { bytes: boolean; initMs: boolean };
  heaviest?: { packages: Weight[]; files: Weight[] };
}

const projectRoot = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

function parseArgs(argv: string[]): Options {
  const options: Options = { json: false, explain: false, runs: 7 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--explain') options.explain = true;
    else if (arg === '--runs') {
      const runs = Number(argv[++i]);
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs expects a positive integer');
      options.runs = runs;
    } else throw new Error(`unknown argument ${String(arg)} (expected --json, --explain, --runs <n>)`);
  }
  return options;
}

/**
 * The yardstick measured in the same run, bundled the same way: `@aws-sdk/client-sqs` alone, one
 * client built at module scope (as our functions build theirs) and a handler that does nothing. Times
 * drift between machines and days; ratios to this bundle do much less.
 */
const REFERENCE = {
  name: 'reference: @aws-sdk/client-sqs alone',
  source: `import { SQSClient } from '@aws-sdk/client-sqs';
const sqs = new SQSClient({});
export const handler = async () => ({ client: typeof sqs.send });
`,
} as const;

async function bundle(
  name: string,
  outdir: string,
  entry: { file: string } | { source: string },
): Promise<{ file: string; metafile: esbuild.Metafile }> {
  const file = path.join(outdir, name.replace(/[^\w-]+/g, '-'), 'index.mjs');
  const result = await esbuild.build({
    ...('file' in entry
      ? { entryPoints: [entry.file] }
      : { stdin: { contents: entry.source, resolveDir: projectRoot, sourcefile: 'reference.mjs' } }),
    absWorkingDir: projectRoot,
    outfile: file,
    bundle: true,
    platform: FUNCTION_BUNDLE.platform,
    target: FUNCTION_BUNDLE.target,
    format: FUNCTION_BUNDLE.format,
    minify: FUNCTION_BUNDLE.minify,
    mainFields: [...FUNCTION_BUNDLE.mainFields],
    banner: { js: FUNCTION_BUNDLE.banner },
    external: [...FUNCTION_BUNDLE.external, ...(FUNCTION_BUNDLE.bundleAwsSdk ? [] : ['@aws-sdk/*'])],
    sourcemap: FUNCTION_BUNDLE.sourcemap,
    sourcesContent: FUNCTION_BUNDLE.sourcesContent,
    metafile: true,
    logLevel: 'warning',
  });
  return { file, metafile: result.metafile };
}

/**
 * What the handlers' module scope reads at init (aws-context.ts, slack-command/config.ts), one set for
 * every function (each reads only its own); values are never contacted.
 */
const LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'bundle-report',
  ONBOARD_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/onboard',
  ACCEPT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/accept',
  DIAL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dial',
  OUTCOME_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/outcomes',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters',
  SECRET_PREFIX: 'consul-peering',
  SLACK_SIGNING_SECRET_NAME: 'consul-peering/slack/signing-secret',
  SLACK_ALLOWED_USERS: 'U024BE7LH,W012A3CDE',
  SLACK_ALLOWED_CHANNELS: 'C024BE91L',
  LOG_LEVEL: 'INFO',
};

const WRAPPER = `const start = process.hrtime.bigint();
await import(process.argv[2]);
const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
process.stdout.write(JSON.stringify(elapsed));
`;

/** One module init: the bundle imported in a fresh Node process, timed around the import. */
async function sampleInit(file: string, wrapper: string, sourceMaps: boolean): Promise<number> {
  const { stdout } = await run(process.execPath, [wrapper, pathToFileURL(file).href], {
    cwd: path.dirname(file),
    env: {
      PATH: process.env.PATH,
      ...LAMBDA_ENV,
      NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '',
    },
  });
  return Number(stdout);
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: round(median(samples)),
    min: round(sorted[0] ?? 0),
    max: round(sorted.at(-1) ?? 0),
    runs: samples.map(round),
  };
}

/**
 * The first invocation of each function: the cheapest event it answers with no outside service
 * besides the empty AWS endpoint. Queue workers get an empty batch (no record, so no Consul or SQS
 * call), the Slack command a function URL GET (refused 405 before its secret is read), the drift scan
 * a dry run (ListSecrets answers nothing: no clusters to read).
 */
function firstEvent(name: FunctionReport['name']): unknown {
  if (name === 'slack-command')
    return {
      version: '2.0',
      rawPath: '/',
      headers: {},
      requestContext: { http: { method: 'GET', path: '/' } },
      isBase64Encoded: false,
    };
  if (name === 'drift-remediation') return { dryRun: true };
  // A late retry of a finished rotation (the endpoint describes v1 as AWSCURRENT): one DescribeSecret.
  if (name === 'rotate-gateway-token')
    return { SecretId: 'consul-peering/gateway-tokens/dc1', ClientRequestToken: 'v1', Step: 'setSecret' };
  if (name === REFERENCE.name) return {};
  return { Records: [] };
}

/** One cold start in the emulator, with its first invocation. */
function sampleLambda(
  runtime: LambdaRuntime,
  file: string,
  endpoint: string,
  name: FunctionReport['name'],
): Promise<ColdStart> {
  const environment = {
    ...LAMBDA_ENV,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'bundle-report',
    AWS_SECRET_ACCESS_KEY: 'bundle-report',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    ...(FUNCTION_BUNDLE.sourcemap && { NODE_OPTIONS: '--enable-source-maps' }),
  };
  return measureColdStart(runtime, path.dirname(file), environment, firstEvent(name));
}

/** Bytes each input contributes to the output, by package (node_modules/<pkg>, or our own code) and by file. */
function heaviest(metafile: esbuild.Metafile): { packages: Weight[]; files: Weight[] } {
  const output = Object.values(metafile.outputs).find((candidate) => candidate.entryPoint !== undefined);
  const packages = new Map<string, number>();
  const files: Weight[] = [];
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    files.push({ name: input, bytes: bytesInOutput });
    packages.set(packageOf(input), (packages.get(packageOf(input)) ?? 0) + bytesInOutput);
  }
  const top = (weights: Weight[]) => weights.sort((a, b) => b.bytes - a.bytes).slice(0, TOP);
  return { packages: top([...packages].map(([name, bytes]) => ({ name, bytes }))), files: top(files) };
}

function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match?.[1]) return match[1];
  const [top, second] = input.split('/');
  return top === 'functions' && second !== undefined ? `functions/${second}` : (top ?? input);
}

const round = (value: number): number => Math.round(value * 10) / 10;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

function printTable(reports: FunctionReport[], options: Options): void {
  console.log(
    `Node ${process.version}, esbuild ${esbuild.version}; init = median of ${options.runs} imports, each in a fresh process; Lambda figures = median of ${options.runs} cold starts in the emulator; one sample of every bundle per round\n`,
  );
  const rows = reports.map((report) => [
    report.name,
    kib(report.bytes),
    kib(report.gzipBytes),
    `${report.initMs.median} ms`,
    `${report.initMs.min}-${report.initMs.max} ms`,
    `${report.initMsWithoutSourceMaps.median} ms`,
    `${report.lambda.initDurationMs.median} ms`,
    `${report.lambda.initPlusFirstInvokeMs.median} ms`,
    `${report.ratioToReference.moduleInitMs}x / ${report.ratioToReference.initDurationMs}x / ${report.ratioToReference.initPlusFirstInvokeMs}x`,
    [report.withinBudget.bytes ? '' : 'size', report.withinBudget.initMs ? '' : 'init']
      .filter(Boolean)
      .join(', ') || 'ok',
  ]);
  const header = [
    'function',
    'bundle',
    'gzip',
    'init',
    'init range',
    'init w/o source maps',
    'Lambda Init Duration',
    'init + 1st invoke',
    'vs reference (module init / Init / init+1st)',
    `over budget (${kib(BUDGET.bytes)}, ${BUDGET.moduleInitRatioToReference}x)`,
  ];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
  );
  for (const row of [header, ...rows])
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    );

  if (!options.explain) return;
  for (const report of reports) {
    if (!report.heaviest) continue;
    console.log(`\n${report.name}: heaviest packages`);
    for (const weight of report.heaviest.packages)
      console.log(`  ${kib(weight.bytes).padStart(11)}  ${weight.name}`);
    console.log(`${report.name}: heaviest files`);
    for (const weight of report.heaviest.files)
      console.log(`  ${kib(weight.bytes).padStart(11)}  ${weight.name}`);
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (!process.version.startsWith('v22.')) {
    console.error(
      `warning: Node ${process.version}; Lambda runs nodejs22.x. Run through npm/npx to use the project's Node 22.`,
    );
  }
  // Resolved first: a machine without the emulator or the runtime client fails here, saying what to install.
  const runtime = resolveLambdaRuntime(projectRoot);
  const outdir = await mkdtemp(path.join(tmpdir(), 'bundle-report-'));
  const aws = await startEmptyAwsEndpoint();
  try {
    const wrapper = path.join(outdir, 'measure-init.mjs');
    await writeFile(wrapper, WRAPPER);
    const entries = [
      ...FUNCTION_NAMES.map((name) => ({ name, entry: { file: functionEntry(projectRoot, name) } })),
      { name: REFERENCE.name, entry: { source: REFERENCE.source } },
    ];
    const bundles = [];
    for (const { name, entry } of entries) {
      const { file, metafile } = await bundle(name, outdir, entry);
      bundles.push({
        name,
        file,
        metafile,
        bytes: (await stat(file)).size,
        gzipBytes: gzipSync(await readFile(file)).length,
        init: [] as number[],
        initWithoutSourceMaps: [] as number[],
        coldStarts: [] as ColdStart[],
      });
    }
    // Round robin, one sample of every bundle per round: a burst of load on this shared machine then
    // falls on all bundles alike, the reference included, and the ratios to it stay meaningful.
    for (let round = 0; round < options.runs; round++) {
      for (const measuring of bundles) {
        measuring.init.push(await sampleInit(measuring.file, wrapper, FUNCTION_BUNDLE.sourcemap));
        measuring.initWithoutSourceMaps.push(await sampleInit(measuring.file, wrapper, false));
        measuring.coldStarts.push(await sampleLambda(runtime, measuring.file, aws.url, measuring.name));
      }
    }
    const measured = bundles.map(
      ({ name, metafile, bytes, gzipBytes, init, initWithoutSourceMaps, coldStarts }) => ({
        name,
        bytes,
        gzipBytes,
        initMs: stats(init),
        initMsWithoutSourceMaps: stats(initWithoutSourceMaps),
        lambda: {
          initDurationMs: stats(coldStarts.map((sample) => sample.initMs)),
          firstInvokeMs: stats(coldStarts.map((sample) => sample.firstInvokeMs)),
          initPlusFirstInvokeMs: stats(coldStarts.map((sample) => sample.initMs + sample.firstInvokeMs)),
        },
        metafile,
      }),
    );
    const reference = measured.at(-1);
    if (reference === undefined) throw new Error('no reference measured');
    const ratio = (value: number, base: number): number => Math.round((value / base) * 100) / 100;
    const reports: FunctionReport[] = measured.map(({ metafile, ...report }) => ({
      ...report,
      ratioToReference: {
        moduleInitMs: ratio(report.initMs.median, reference.initMs.median),
        initDurationMs: ratio(report.lambda.initDurationMs.median, reference.lambda.initDurationMs.median),
        initPlusFirstInvokeMs: ratio(
          report.lambda.initPlusFirstInvokeMs.median,
          reference.lambda.initPlusFirstInvokeMs.median,
        ),
      },
      withinBudget: {
        bytes: report.bytes <= BUDGET.bytes,
        initMs: ratio(report.initMs.median, reference.initMs.median) <= BUDGET.moduleInitRatioToReference,
      },
      ...(options.explain && { heaviest: heaviest(metafile) }),
    }));
    if (options.json) {
      const summary = {
        node: process.version,
        esbuild: esbuild.version,
        runs: options.runs,
        budget: BUDGET,
        bundle: FUNCTION_BUNDLE,
        functions: reports,
      };
      console.log(JSON.stringify(summary, null, 2));
    } else {
      printTable(reports, options);
    }
  } finally {
    await aws.close();
    await rm(outdir, { recursive: true, force: true });
  }
}

await main();
