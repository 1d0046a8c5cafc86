import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { PeeringAutomationSettings } from '../config/settings';
import { PeeringAutomationStack } from '../stacks/peering-automation-stack';

/** The repository root (jest runs this file as CommonJS). */
export const PROJECT_ROOT = path.resolve(__dirname, '../..');

/** cdk.json's context (feature flags and our defaults), so tests synthesize what `cdk synth` does. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface SynthOptions {
  /** Extra CDK context, as `-c` would give it. */
  context?: Record<string, unknown>;
  settings?: PeeringAutomationSettings;
  /** Really bundle the functions with esbuild. Off by default: NodejsFunction then skips bundling. */
  bundle?: boolean;
  outdir?: string;
}

export function synthStack(options: SynthOptions = {}) {
  const app = new App({
    ...(options.outdir !== undefined && { outdir: options.outdir }),
    context: {
      ...cdkJsonContext(),
      // An empty list of stacks to bundle makes every asset with bundling a placeholder.
      ...(options.bundle === true ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
  const stack = new PeeringAutomationStack(app, 'Test', {
    projectRoot: PROJECT_ROOT,
    ...(options.settings !== undefined && { settings: options.settings }),
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Example network context, in the form `-c` gives it (comma-separated strings). */
export const NETWORK_CONTEXT = {
  'consulPeering:vpcId': 'vpc-0123456789abcdef0',
  'consulPeering:subnetIds': 'subnet-0123456789abcdef0,subnet-0fedcba9876543210',
  'consulPeering:securityGroupIds': 'sg-0123456789abcdef0',
};
