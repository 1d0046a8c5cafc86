import { execFileSync } from 'node:child_process';

/**
 * The Consul binary (`npm run consul:path`: CONSUL_BIN, the cache, or a build from the Go module proxy).
 * A build's progress goes straight to the terminal; a failure throws with the script's message above it.
 */
export function resolveConsulBinary(): string {
  return execFileSync('bash', ['scripts/consul-binary.sh'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** e.g. `v1.14.11`, from `consul version`. */
export function consulVersion(binary: string): string {
  const line = execFileSync(binary, ['version'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  return /v?\d+\.\d+\.\d+\S*/.exec(line)?.[0] ?? line.trim();
}
