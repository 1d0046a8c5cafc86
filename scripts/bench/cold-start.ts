import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { LambdaEmulator, type LambdaRuntime } from '#devkit/lambda-emulator';

/**
 * A cold start as Lambda reports it: a fresh emulator (aws-lambda-rie) starts the runtime client on
 * Node 22 with the bundle, and its own lines give the init phase (`INIT REPORT(durationMs: …)`, the
 * runtime's start plus the module's top level) and the first invocation (`INVOKE RTDONE(… duration:
 * …ms)`). The REPORT line's `Init Duration` is not used: this emulator initializes lazily inside the
 * first invocation and prints a near-zero figure there.
 */
export interface ColdStart {
  initMs: number;
  firstInvokeMs: number;
}

const INIT_REPORT = /INIT REPORT\(durationMs: ([\d.]+)\)/;
const INVOKE_DONE = /INVOKE RTDONE\(status: (\w+),.*duration: ([\d.]+)ms\)/;

export async function measureColdStart(
  runtime: LambdaRuntime,
  bundleDir: string,
  environment: Record<string, string>,
  event: unknown,
): Promise<ColdStart> {
  const emulator = await LambdaEmulator.start(runtime, {
    functionName: path.basename(bundleDir),
    taskRoot: bundleDir,
    handler: 'index.handler',
    timeoutSeconds: 30,
    memorySize: 512,
    environment,
  });
  try {
    const { error } = await emulator.invoke(event);
    if (error !== undefined)
      throw new Error(`${path.basename(bundleDir)}: the first invocation failed: ${error.errorMessage}`);
    // The emulator prints its report lines around the response; wait for them with a deadline.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const init = INIT_REPORT.exec(emulator.output);
      const invoke = INVOKE_DONE.exec(emulator.output);
      if (init?.[1] !== undefined && invoke?.[2] !== undefined) {
        if (invoke[1] !== 'success') throw new Error(`${path.basename(bundleDir)}: invoke ${invoke[1]}`);
        return { initMs: Number(init[1]), firstInvokeMs: Number(invoke[2]) };
      }
      if (Date.now() > deadline)
        throw new Error(
          `no INIT REPORT / INVOKE RTDONE lines from the emulator:\n${emulator.output.slice(-2000)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    await emulator.stop();
  }
}

/**
 * A stand-in AWS endpoint that answers every call with an empty JSON document, so a first invocation
 * can make its SDK calls (serialize, sign, send, parse) without an account or moto: ListSecrets
 * lists nothing, so a drift scan finds no clusters. DescribeSecret describes the secret asked for
 * with its one version `v1` current, so a rotation step for `v1` is a finished rotation's late retry:
 * one call, then nothing to do.
 */
export async function startEmptyAwsEndpoint(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let answer = '{}';
      if (request.headers['x-amz-target'] === 'secretsmanager.DescribeSecret') {
        const { SecretId } = JSON.parse(Buffer.concat(chunks).toString()) as { SecretId: string };
        answer = JSON.stringify({ Name: SecretId, VersionIdsToStages: { v1: ['AWSCURRENT'] } });
      }
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
