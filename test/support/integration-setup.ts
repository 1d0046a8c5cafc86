import { LocalConsulCluster } from '#devkit/local-consul-cluster';

// Integration tests wait on real Consul agents (a peering takes seconds to become ACTIVE, more on a
// busy 2-core machine). jest's `testTimeout` is ignored inside `projects`, so it is set here.
jest.setTimeout(120_000);

declare global {
  var __integrationTestFailed: boolean | undefined;
}

/** True after a failed test or hook, until the next test starts: a test file's own afterEach can read it. */
export const lastTestFailed = (): boolean => globalThis.__integrationTestFailed === true;

beforeEach(() => {
  globalThis.__integrationTestFailed = false;
});

// When a test fails, the end of every running agent's log goes with the failure report.
afterEach(() => {
  if (!lastTestFailed()) return;
  for (const cluster of LocalConsulCluster.running()) {
    console.error(
      `--- consul ${cluster.datacenter} (${cluster.address}): last lines of its log ---\n${cluster.log.slice(-4000)}`,
    );
  }
});
