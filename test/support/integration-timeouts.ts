// Integration tests wait on real Consul agents (a peering takes seconds to become ACTIVE, more on a
// busy 2-core machine). jest's `testTimeout` is ignored inside `projects`, so it is set here.
jest.setTimeout(120_000);
