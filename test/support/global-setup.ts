import { execFileSync } from 'node:child_process';
import { resolveConsulBinary } from '#devkit/consul-binary';

/**
 * Runs once before the integration project. It resolves the real dependencies up front so that a
 * missing one fails the run with one clear message instead of every test timing out: the Consul
 * binary (CONSUL_BIN, the cache, or a build from the Go module proxy) and moto_server.
 */
export default function globalSetup(): void {
  if (process.env.CONSUL_BIN === undefined || process.env.CONSUL_BIN === '') {
    try {
      process.env.CONSUL_BIN = resolveConsulBinary();
    } catch {
      throw new Error(
        'integration tests need a real Consul binary and `npm run consul:path` could not provide one (see above)',
      );
    }
  }
  try {
    execFileSync(process.env.MOTO_SERVER ?? 'moto_server', ['--help'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'integration tests need moto_server (a real AWS API on loopback) and it is not runnable: ' +
        'install it with `python3 -m pip install "moto[server]==5.2.1"` or set MOTO_SERVER to its path',
    );
  }
}
