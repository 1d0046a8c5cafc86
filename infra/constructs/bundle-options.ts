/**
 * How every function is bundled, as plain esbuild options: the CDK construct (PeeringFunction) and the
 * bundle report (scripts/bundle-report.ts) both read this, so the report measures what we deploy.
 * No aws-cdk-lib import here on purpose: the report runs esbuild directly.
 */
export interface FunctionBundleOptions {
  target: string;
  platform: 'node';
  format: 'esm';
  minify: boolean;
  mainFields: readonly string[];
  banner: string;
  bundleAwsSdk: boolean;
  sourcemap: boolean;
  sourcesContent: boolean;
  external: readonly string[];
}

export const FUNCTION_BUNDLE: Readonly<FunctionBundleOptions> = {
  /** Lambda's nodejs22.x runtime. */
  target: 'node22',
  platform: 'node',
  format: 'esm',
  minify: true,
  /** Prefer packages' ESM builds (`module`): smaller after tree shaking, and the SDK ships one. */
  mainFields: ['module', 'main'],
  /**
   * Bundled CommonJS dependencies (undici) `require()` Node built-ins; esbuild's ESM output has no
   * `require`, so give it a real one.
   */
  banner: "import{createRequire}from'node:module';const require=createRequire(import.meta.url);",
  /** The SDK goes into the bundle: faster init than loading the runtime's copy, and a version we test. */
  bundleAwsSdk: true,
  /** A separate .map file without sources: readable stack traces without shipping or parsing our source. */
  sourcemap: true,
  sourcesContent: false,
  /**
   * undici's experimental Milo HTTP parser (two WASM builds, about 150 KB) is only `require`d when
   * UNDICI_USE_MILO=1, which we never set; left out, the lazy require is simply never reached.
   */
  external: ['../milo/*'],
};

/** The pipeline's steps: each consumes its own work queue and talks to Consul. */
export const PIPELINE_STEPS = ['onboard-cluster', 'accept-peering', 'dial-peering'] as const;
export type PipelineStep = (typeof PIPELINE_STEPS)[number];

/**
 * Every Lambda function the stack deploys, by directory under functions/ (each has an `index.ts`
 * exporting `handler`): the pipeline, the outcome notifier, the Slack command, the drift scan and the
 * gateway token rotation.
 * The bundle report and the bundling test go through this list, so a new function cannot be missed.
 */
export const FUNCTION_NAMES = [
  ...PIPELINE_STEPS,
  'notify-outcome',
  'slack-command',
  'drift-remediation',
  'rotate-gateway-token',
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

export const functionEntry = (projectRoot: string, name: FunctionName): string =>
  `${projectRoot}/functions/${name}/index.ts`;
