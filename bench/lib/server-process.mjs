// Runs a Rapport server in a child process (so a load generator in the parent does not steal its
// event loop), on DATABASE_URL or a fresh embedded PostgreSQL, and hands back its URL and keys.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Resident memory of a process in MB (Linux `/proc`), or null when it is gone. */
export function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/** True while a process exists. */
export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the server child; resolves with { url, databaseUrl, keys, pid, stop() }. With BENCH_CPU_PROF
 * set, the child writes a V8 CPU profile to /tmp/prof, unless `options.cpuProf` is false (profile
 * one server of several). `root`: another built checkout of Rapport whose server to run (A/B runs);
 * `nodeArgs`: Node options for the child (e.g. V8 heap flags); BENCH_NODE_ARGS adds more from the environment
 * (e.g. `--heap-prof --heap-prof-dir=/tmp/heap` for an allocation profile).
 */
export function startServerProcess({ root = ROOT, nodeArgs = [], ...options } = {}) {
  const child = fork(path.join(root, 'bench/lib/server-child.cjs'), [], {
    execArgv: [...nodeArgs, ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ').filter(Boolean) : []), ...((process.env.BENCH_CPU_PROF && options.cpuProf !== false) ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])],
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
        pid: child.pid,
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
