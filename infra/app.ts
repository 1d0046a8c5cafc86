import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigurationError } from './config/resolve-config';
import { PeeringAutomationStack } from './stacks/peering-automation-stack';

// `npx cdk synth` / `npx cdk deploy` (cdk.json runs this with tsx). Configuration: `consulPeering:*`
// context, see docs/deploy.md. The stack is environment-agnostic (it looks nothing up), so
// synth works offline and deploy targets the CLI's account and region.
const app = new App();
try {
  new PeeringAutomationStack(app, 'ConsulPeeringAutomation', {
    projectRoot: path.resolve(import.meta.dirname, '..'),
    description: 'Consul cluster peering through mesh gateways, driven by SQS and Lambda',
  });
} catch (error) {
  if (!(error instanceof ConfigurationError)) throw error;
  // The problems are the whole message; a stack trace would only bury them.
  console.error(error.message);
  process.exit(1);
}
// Any unacknowledged AwsSolutions finding fails synth (and deploy).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
