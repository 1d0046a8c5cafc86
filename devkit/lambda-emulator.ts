import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from './free-port';
import { OwnedProcess } from './owned-process';

/** The real Lambda runtime stack, built or installed by the project's scripts (cached outside the repo). */
export interface LambdaRuntime {
  /** aws-lambda-rie (scripts/lambda-rie-binary.sh). */
  emulator: string;
  /** aws-lambda-ric's index.mjs (scripts/lambda-ric.sh). */
  runtimeClient: string;
  /** Node 22, the nodejs22.x runtime's major (the `node` devDependency). */
  node: string;
}

/**
 * Resolves the runtime through the project scripts (instant when cached; a first build or install
 * prints its progress on stderr). Fails with what to install; there is no fallback to the sources.
 */
export function resolveLambdaRuntime(projectRoot: string): LambdaRuntime {
  const script = (name: string, what: string): string => {
    try {
      return execFileSync('bash', [path.join(projectRoot, 'scripts', name)], {
        cwd: projectRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
    } catch (error) {
      throw new Error(
        `the deployed-bundle tests need ${what} and scripts/${name} could not provide it (its message is above); ` +
          'it needs Go and the Go module proxy once for the emulator, and npm, cmake, make and a C++ compiler ' +
          'once for the runtime client',
        { cause: error },
      );
    }
  };
  return {
    emulator: script('lambda-rie-binary.sh', 'the Lambda Runtime Interface Emulator'),
    runtimeClient: script('lambda-ric.sh', 'the Node.js Lambda runtime interface client (aws-lambda-ric)'),
    node: path.join(projectRoot, 'node_modules/.bin/node'),
  };
}

export interface EmulatedFunction {
  /** Shown in errors and as AWS_LAMBDA_FUNCTION_NAME. */
  functionName: string;
  /** The unzipped bundle: LAMBDA_TASK_ROOT. */
  taskRoot: string;
  /** `index.handler`. */
  handler: string;
  timeoutSeconds: number;
  memorySize: number;
  /** The function's environment, resolved (no deploy-time references left). */
  environment: Record<string, string>;
}

export interface InvokeResult {
  /** The function's answer (JSON-decoded when it is JSON), or the runtime's error document. */
  payload: unknown;
  /** Set when the function threw, timed out or failed to initialize (Lambda's X-Amz-Function-Error). */
  error: { errorType: string; errorMessage: string } | undefined;
}

/**
 * One Lambda execution environment: aws-lambda-rie running aws-lambda-ric on Node 22, on its own
 * free ports (the emulator's `--runtime-api-address` and `--runtime-interface-emulator-address`
 * flags), so several run at once. Like one Lambda sandbox it serves one invocation at a time, and the
 * first invocation pays the cold start (the emulator initializes lazily).
 */
export class LambdaEmulator {
  #busy = false;

  private constructor(
    readonly fn: EmulatedFunction,
    private readonly process: OwnedProcess,
    private readonly invokeUrl: string,
    private readonly workDir: string,
  ) {}

  static async start(runtime: LambdaRuntime, fn: EmulatedFunction): Promise<LambdaEmulator> {
    const workDir = await mkdtemp(path.join(tmpdir(), 'lambda-emulator-'));
    const bootstrap = path.join(workDir, 'bootstrap');
    await writeFile(bootstrap, bootstrapScript(runtime, fn), { mode: 0o700 });
    await chmod(bootstrap, 0o700);
    let lastOutput = '';
    // A free port can be taken between probing and binding; retry with new ones.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [runtimeApiPort, invokePort] = await freePorts(2);
      const env = {
        // Lambda's own variables the emulator reads for its reports, then the function's.
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...fn.environment,
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_TIMEOUT: String(fn.timeoutSeconds),
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      };
      const emulator = new OwnedProcess(
        `aws-lambda-rie ${fn.functionName}`,
        runtime.emulator,
        [
          '--log-level',
          'info',
          '--runtime-api-address',
          `127.0.0.1:${String(runtimeApiPort)}`,
          '--runtime-interface-emulator-address',
          `127.0.0.1:${String(invokePort)}`,
          bootstrap,
        ],
        { cwd: workDir, env, removeOnOrphan: workDir },
      );
      if (await listening(emulator, Number(invokePort)))
        return new LambdaEmulator(
          fn,
          emulator,
          `http://127.0.0.1:${String(invokePort)}/2015-03-31/functions/function/invocations`,
          workDir,
        );
      lastOutput = emulator.output;
      await emulator.stop(0);
    }
    await rm(workDir, { recursive: true, force: true });
    throw new Error(`aws-lambda-rie for ${fn.functionName} did not start:\n${lastOutput.slice(-4000)}`);
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** Everything the emulator and the runtime printed (Lambda's START/REPORT lines and the function's logs). */
  get output(): string {
    return this.process.output;
  }

  /** All it ever printed, in characters: `output` ends there. */
  get outputLength(): number {
    return this.process.outputLength;
  }

  async invoke(payload: unknown): Promise<InvokeResult> {
    if (this.#busy) throw new Error(`${this.fn.functionName}: this execution environment is busy`);
    this.#busy = true;
    try {
      const response = await fetch(this.invokeUrl, {
        method: 'POST',
        body: JSON.stringify(payload),
        // The emulator ends a timed-out invocation itself; this only guards against a hung emulator.
        signal: AbortSignal.timeout((this.fn.timeoutSeconds + 30) * 1000),
      });
      const text = await response.text();
      const body = parseJson(text);
      return { payload: body, error: functionError(response, body, text) };
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }
}

/**
 * The runtime's bootstrap, as Lambda's nodejs22.x has one: the function's environment, then Node 22
 * on the runtime interface client. Exported here rather than trusted to the emulator, which on Lambda
 * is the platform's job. Written 0700 in a private folder: it holds the (dummy) credentials.
 */
function bootstrapScript(runtime: LambdaRuntime, fn: EmulatedFunction): string {
  const variables: Record<string, string> = {
    ...fn.environment,
    LAMBDA_TASK_ROOT: fn.taskRoot,
    LAMBDA_RUNTIME_DIR: path.dirname(runtime.runtimeClient),
    _HANDLER: fn.handler,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
  };
  const exports = Object.entries(variables).map(([name, value]) => `export ${name}=${shellQuote(value)}`);
  return [
    '#!/bin/sh',
    ...exports,
    `cd ${shellQuote(fn.taskRoot)}`,
    `exec ${shellQuote(runtime.node)} ${shellQuote(runtime.runtimeClient)}`,
    '',
  ].join('\n');
}

const shellQuote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;

async function listening(emulator: OwnedProcess, port: number): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!emulator.running) return false;
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (open) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The emulator answers a function error with the runtime's error document (`errorType`,
 * `errorMessage`) and a 200 or 502, and a timeout with a plain text body.
 */
function functionError(response: Response, body: unknown, text: string): InvokeResult['error'] {
  if (typeof body === 'object' && body !== null && 'errorType' in body && 'errorMessage' in body) {
    return { errorType: String(body.errorType), errorMessage: String(body.errorMessage) };
  }
  if (response.headers.has('x-amz-function-error') || !response.ok || /^Task timed out/.test(text)) {
    return { errorType: `HTTP ${String(response.status)}`, errorMessage: text.slice(0, 1000) };
  }
  return undefined;
}
