import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { FUNCTION_NAMES, type FunctionName } from '../infra/constructs/bundle-options';

/**
 * What `cdk synth` wrote, read the way CloudFormation and Lambda would use it: each function's bundle
 * (its asset folder), handler, timeout, memory and environment, each SQS queue with its visibility
 * timeout and redrive policy, and each event source mapping. Values are taken from the template as
 * they are, deploy-time references included (resolved later, by whoever creates the queues).
 */
export interface SynthesizedStack {
  stackName: string;
  functions: SynthesizedFunction[];
  queues: SynthesizedQueue[];
  /** Logical ids of the template's KMS keys (the secrets' key is passed to functions by its ARN). */
  kmsKeys: string[];
}

/** A CloudFormation value: a literal or an intrinsic (`{ Ref }`, `{ "Fn::GetAtt" }`, …). */
export type TemplateValue = string | number | boolean | { [intrinsic: string]: unknown };

export interface SynthesizedFunction {
  /** The function folder under functions/, found in the bundle's source map (its entry file). */
  name: FunctionName;
  logicalId: string;
  assetDir: string;
  /** `index.handler`. */
  handler: string;
  runtime: string;
  timeoutSeconds: number;
  memorySize: number;
  environment: Record<string, TemplateValue>;
  logFormat: string | undefined;
  eventSource: SqsEventSource | undefined;
  hasFunctionUrl: boolean;
}

export interface SqsEventSource {
  queueLogicalId: string;
  batchSize: number;
  /** ScalingConfig.MaximumConcurrency; Lambda's default (no cap) is represented by 1000. */
  maximumConcurrency: number;
  reportBatchItemFailures: boolean;
}

export interface SynthesizedQueue {
  logicalId: string;
  visibilityTimeoutSeconds: number;
  redrive: { deadLetterQueueLogicalId: string; maxReceiveCount: number } | undefined;
}

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}

// npm scripts and jest run in the project root, where cdk.json is (as devkit/consul-binary.ts assumes).
const projectRoot = process.cwd();
const run = promisify(execFile);

/**
 * Runs `cdk synth` (the project's CLI and cdk.json, so functions are bundled exactly as for a deploy)
 * into `outdir`. `context` is passed as `-c key=value`.
 */
export async function synthesize(outdir: string, context: Record<string, string> = {}): Promise<void> {
  const cli = path.join(projectRoot, 'node_modules/aws-cdk/bin/cdk');
  const args = [cli, 'synth', '--quiet', '--output', outdir];
  for (const [key, value] of Object.entries(context)) args.push('--context', `${key}=${value}`);
  try {
    await run(process.execPath, args, { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`cdk synth failed:\n${stderr ?? ''}${stdout ?? ''}`, { cause: error });
  }
}

/** Reads the one stack template in a `cdk synth` output folder (cdk.out). */
export async function readSynthesizedStack(cdkOut: string): Promise<SynthesizedStack> {
  const templates = (await readdir(cdkOut)).filter((file) => file.endsWith('.template.json'));
  if (templates.length !== 1 || templates[0] === undefined)
    throw new Error(`${cdkOut}: expected one *.template.json, found ${templates.length}`);
  const stackName = templates[0].replace(/\.template\.json$/, '');
  const template = JSON.parse(await readFile(path.join(cdkOut, templates[0]), 'utf8')) as {
    Resources: Record<string, Resource>;
  };
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);

  const queues: SynthesizedQueue[] = ofType('AWS::SQS::Queue').map(([logicalId, resource]) => {
    const properties = resource.Properties ?? {};
    const redrive = properties.RedrivePolicy as
      { deadLetterTargetArn: TemplateValue; maxReceiveCount: number } | undefined;
    return {
      logicalId,
      // SQS's default when the template leaves it out.
      visibilityTimeoutSeconds: Number(properties.VisibilityTimeout ?? 30),
      redrive:
        redrive === undefined
          ? undefined
          : {
              deadLetterQueueLogicalId: getAttTarget(
                redrive.deadLetterTargetArn,
                `${logicalId} RedrivePolicy`,
              ),
              maxReceiveCount: redrive.maxReceiveCount,
            },
    };
  });

  const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, resource]) => resource.Properties ?? {});
  const urls = ofType('AWS::Lambda::Url').map(([, resource]) =>
    getAttTarget(resource.Properties?.TargetFunctionArn as TemplateValue, 'Lambda URL'),
  );

  const functions: SynthesizedFunction[] = [];
  for (const [logicalId, resource] of ofType('AWS::Lambda::Function')) {
    const properties = resource.Properties ?? {};
    const code = properties.Code as { S3Key?: string } | undefined;
    if (code?.S3Key === undefined) throw new Error(`${logicalId}: its Code is not a bundled asset`);
    const assetDir = path.join(cdkOut, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    const mapping = mappings.find((candidate) => refTarget(candidate.FunctionName) === logicalId);
    const environment = (properties.Environment as { Variables?: Record<string, TemplateValue> } | undefined)
      ?.Variables;
    functions.push({
      name: await functionNameOf(assetDir, logicalId),
      logicalId,
      assetDir,
      handler: String(properties.Handler),
      runtime: String(properties.Runtime),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      memorySize: Number(properties.MemorySize ?? 128),
      environment: environment ?? {},
      logFormat: (properties.LoggingConfig as { LogFormat?: string } | undefined)?.LogFormat,
      eventSource:
        mapping === undefined
          ? undefined
          : {
              queueLogicalId: getAttTarget(
                mapping.EventSourceArn as TemplateValue,
                `${logicalId} event source`,
              ),
              batchSize: Number(mapping.BatchSize ?? 10),
              maximumConcurrency:
                (mapping.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ??
                1000,
              reportBatchItemFailures: (
                (mapping.FunctionResponseTypes as string[] | undefined) ?? []
              ).includes('ReportBatchItemFailures'),
            },
      hasFunctionUrl: urls.includes(logicalId),
    });
  }
  return { stackName, functions, queues, kmsKeys: ofType('AWS::KMS::Key').map(([logicalId]) => logicalId) };
}

/** The function a bundle was built from: the `functions/<name>/index.ts` its source map lists. */
async function functionNameOf(assetDir: string, logicalId: string): Promise<FunctionName> {
  const map = JSON.parse(await readFile(path.join(assetDir, 'index.mjs.map'), 'utf8')) as {
    sources: string[];
  };
  const entries = FUNCTION_NAMES.filter((name) =>
    map.sources.some((source) => source.endsWith(`functions/${name}/index.ts`)),
  );
  if (entries.length !== 1 || entries[0] === undefined)
    throw new Error(`${logicalId}: its bundle's source map names ${entries.length} function entries`);
  return entries[0];
}

function refTarget(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null && 'Ref' in value ? String(value.Ref) : undefined;
}

function getAttTarget(value: TemplateValue, where: string): string {
  const getAtt = typeof value === 'object' ? value['Fn::GetAtt'] : undefined;
  if (!Array.isArray(getAtt) || typeof getAtt[0] !== 'string')
    throw new Error(`${where}: expected {"Fn::GetAtt": [id, "Arn"]}, got ${JSON.stringify(value)}`);
  return getAtt[0];
}
