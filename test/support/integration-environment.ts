import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';

/**
 * The integration tests' environment: Node's, plus a flag telling the test file that the test (or a
 * hook) that just ran failed, so the agents' logs are printed exactly when they help (see
 * integration-setup.ts). jest-circus reports failures only to the environment.
 */
export default class IntegrationEnvironment extends TestEnvironment {
  handleTestEvent(event: Circus.Event): void {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      this.global.__integrationTestFailed = true;
    }
  }
}
