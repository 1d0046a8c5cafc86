/**
 * `npm run deployed`: the stack as it would be deployed, on this machine, against your own clusters.
 * The bundles `cdk synth` writes (or a release's cdk.out) run in the Lambda runtime (aws-lambda-rie and
 * aws-lambda-ric on Node 22) with the template's environment, fed by SQS event source mappings with the
 * template's batch sizes, concurrency, visibility timeouts and redrive; every AWS call goes to
 * AWS_ENDPOINT_URL (moto or LocalStack; without it a moto server is started here). For trying a
 * release before `cdk deploy`: docs/lambda-runtime.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { main as peerctl } from '../cli/peerctl';
import { DeployedStack } from '#devkit/deployed-stack';
import { resolveLambdaRuntime } from '#devkit/lambda-emulator';
import { startMoto, type MotoClientConfig } from '#devkit/moto';
import { readSynthesizedStack, synthesize } from '#devkit/synthesized-stack';

const USAGE = `usage: npm run deployed -- [-f FLEET] [--cdk-out DIR] [--quiet]

Runs the stack as deployed, locally: each function's bundle in the Lambda runtime emulator with the
environment of the synthesized template, every queue on the SQS endpoint, each SQS event source mapping
as the template sets it. Consul calls go to your clusters, as named in the connection secrets.

  -f, --file FLEET   apply this fleet file (peerctl apply -f FLEET --aws) through the running stack,
                     then stop, with apply's exit code; without it the stack runs until Ctrl-C and
                     prints the environment for peerctl --aws
  --cdk-out DIR      run this synthesized output (a release's cdk.out) instead of synthesizing now
  --quiet            do not print the functions' log lines (Lambda's START/REPORT and JSON logs)
  -h, --help         this text

AWS side: AWS_ENDPOINT_URL (moto or LocalStack) with AWS_REGION and credentials from the environment;
without AWS_ENDPOINT_URL a moto server is started on a free port (moto_server on PATH), and dropped at
the end. The secrets (connection secrets, tokens) live there, never in AWS.

examples
  npm run deployed -- -f examples/fleet.yaml
  AWS_ENDPOINT_URL=http://127.0.0.1:4566 npm run deployed -- --cdk-out release/cdk.out`;

interface Options {
  file: string | undefined;
  cdkOut: string | undefined;
  quiet: boolean;
}

function options(argv: string[]): Options | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      file: { type: 'string', short: 'f' },
      'cdk-out': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  if (values.help === true) return 'help';
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}`);
  return { file: values.file, cdkOut: values['cdk-out'], quiet: values.quiet === true };
}

/** The AWS side: the user's endpoint, or a moto server of our own. */
async function awsEndpoint(env: NodeJS.ProcessEnv, cleanups: (() => Promise<void>)[]) {
  const endpoint = env.AWS_ENDPOINT_URL;
  if (endpoint === undefined || endpoint === '') {
    const moto = await startMoto();
    cleanups.push(() => moto.stop());
    console.error(`moto: started at ${moto.endpoint} (AWS_ENDPOINT_URL unset)`);
    return moto.clientConfig;
  }
  const config: MotoClientConfig = {
    endpoint,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'test',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'test',
    },
  };
  return config;
}

async function run(argv: string[]): Promise<number> {
  const parsed = options(argv);
  if (parsed === 'help') {
    console.log(USAGE);
    return 0;
  }
  const cleanups: (() => Promise<void>)[] = [];
  const stopped = new AbortController();
  const stop = (): void => {
    stopped.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const runtime = resolveLambdaRuntime(process.cwd());
    let cdkOut = parsed.cdkOut;
    if (cdkOut === undefined) {
      const dir = await mkdtemp(path.join(tmpdir(), 'deployed-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      console.error('cdk synth: bundling the functions as for a deploy ...');
      await synthesize(dir);
      cdkOut = dir;
    }
    const stack = await readSynthesizedStack(cdkOut);
    const aws = await awsEndpoint(process.env, cleanups);
    const deployed = await DeployedStack.start({
      stack,
      runtime,
      aws,
      queueNamePrefix: stack.stackName,
      // RotateSecret names the rotation function, which moto and LocalStack cannot invoke here (they
      // run Lambdas in Docker): onboarding schedules no rotation locally (docs/lambda-runtime.md).
      environment: { 'onboard-cluster': { ROTATION_FUNCTION_ARN: '' } },
    });
    cleanups.push(() => deployed.stop());
    const printer = parsed.quiet
      ? undefined
      : setInterval(() => {
          printLogLines(deployed);
        }, 500);
    cleanups.push(() => {
      clearInterval(printer);
      if (!parsed.quiet) printLogLines(deployed);
      return Promise.resolve();
    });

    const env = peerctlEnvironment(deployed, aws);
    console.error(
      `${stack.stackName}: ${stack.functions.length} functions in the Lambda runtime, ${stack.queues.length} queues at ${aws.endpoint}`,
    );
    if (parsed.file !== undefined) {
      return await peerctl(['apply', '-f', parsed.file, '--aws'], {
        stdout: (line) => {
          console.log(line);
        },
        stderr: (line) => {
          console.error(line);
        },
        env: { ...process.env, ...env },
        signal: stopped.signal,
      });
    }
    console.error('peerctl --aws reaches it with this environment (Ctrl-C stops the stack):');
    for (const [name, value] of Object.entries(env)) console.log(`export ${name}=${value}`);
    await new Promise((resolve) => {
      stopped.signal.addEventListener('abort', resolve, { once: true });
    });
    return 130;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** What peerctl --aws needs to publish to this stack's queues and read its secrets. */
function peerctlEnvironment(deployed: DeployedStack, aws: MotoClientConfig): Record<string, string> {
  const onboard = deployed.environment('onboard-cluster');
  return {
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    ONBOARD_QUEUE_URL: deployed.sourceQueue('onboard-cluster').url,
    ACCEPT_QUEUE_URL: deployed.sourceQueue('accept-peering').url,
    // The connection secrets peerctl writes go under the stack's prefix and key, as in AWS.
    ...(onboard.SECRET_PREFIX !== undefined && { SECRET_PREFIX: onboard.SECRET_PREFIX }),
    ...(onboard.SECRETS_KMS_KEY_ID !== undefined && { SECRETS_KMS_KEY_ID: onboard.SECRETS_KMS_KEY_ID }),
  };
}

function printLogLines(deployed: DeployedStack): void {
  for (const { functionName, line } of deployed.newLogLines()) console.error(`[${functionName}] ${line}`);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`npm run deployed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
