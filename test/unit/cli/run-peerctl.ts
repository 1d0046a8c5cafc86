import { main } from '../../../cli/peerctl';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** peerctl in-process with captured output and a chosen environment (never the real one). */
export async function peerctl(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await main(argv, {
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    env,
  });
  return { code, stdout: stdout.join('\n'), stderr: stderr.join('\n') };
}
