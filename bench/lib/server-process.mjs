// Runs a Rapport server in a child process (so a load generator in the parent does not steal its
// event loop), on DATABASE_URL or a fresh embedded PostgreSQL, and hands back its URL and keys.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Starts the server child; resolves with { url, databaseUrl, keys, stop() }. */
export function startServerProcess(options = {}) {
  const child = fork(path.join(ROOT, 'bench/lib/server-child.cjs'), [], {
    execArgv: process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [],
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', BENCH_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
    child.once('message', (msg) => {
      if (msg.error) return reject(new Error(msg.error));
      resolve({
        ...msg,
        stop: () =>
          new Promise((res) => {
            child.removeAllListeners('exit');
            child.once('exit', () => res());
            child.send('stop');
          }),
      });
    });
  });
}
