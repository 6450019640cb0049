import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The repository root and the `rapport` CLI (built: run `npx tsc -b` first). */
export const ROOT = path.resolve(__dirname, '../../../..');
export const CLI = path.join(ROOT, 'packages/server/bin/rapport.js');

/** A `rapport start` child process, once it listens. */
export interface CliServer {
  proc: ChildProcess;
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  /** Its stdout so far, line by line (its structured log lines, at LOG_LEVEL info). */
  lines(): string[];
}

/**
 * Spawns `rapport start` with these arguments and environment (`env` replaces the process's own);
 * resolves once it logs that it listens (LOG_LEVEL must be info or lower), rejects if it exits first.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv, opts: { detached?: boolean; timeoutMs?: number } = {}): Promise<CliServer> {
  const proc = spawn(process.execPath, [CLI, 'start', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let out = '';
  let stdout = '';
  proc.stderr!.on('data', (d) => (out += d));
  return new Promise<CliServer>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line: ${out}`)), opts.timeoutMs ?? 90_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      stdout += d;
      const line = out.split('\n').find((l) => l.includes('rapport is listening'));
      if (line) {
        clearTimeout(timer);
        resolve({ proc, exited, output: () => out, lines: () => stdout.split('\n').filter(Boolean), url: (JSON.parse(line).url as string).replace('/graphql', '').replace('localhost', '127.0.0.1') });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`rapport start exited with ${code}: ${out}`));
    });
  });
}
