// Shared pieces of the fault scenarios (bench/faults/*.mjs): a private PostgreSQL cluster the
// scenario owns (never the PostgreSQL anything else uses), `rapport start` as a child process,
// the official Segment Node SDK as the client, and the counts. Loopback only; every wait bounded.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRequire } from 'node:module';
import pg from 'pg';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const run = promisify(execFile);
const CLI = path.join(ROOT, 'packages/server/bin/rapport.js');

/** Exits the scenario (code 1) after `ms` whatever happens: every scenario stops by itself. */
export function deadline(ms, cleanup) {
  const t = setTimeout(async () => {
    process.stderr.write(`scenario over its ${ms} ms bound; stopping\n`);
    await cleanup?.().catch(() => undefined);
    process.exit(1);
  }, ms);
  t.unref();
}

/** Reads `--name value` from argv as a number. */
export function numberArg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Direct children of a process (Linux /proc): the postmaster's backends. */
function childrenOf(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * A PostgreSQL cluster of the scenario's own on a free loopback port, from the embedded binaries
 * (packages/core/dist/database/postgres-process.js), in a temporary directory deleted at the end.
 */
export async function privatePostgres() {
  const { PostgresProcess } = require(path.join(ROOT, 'packages/core/dist/database/postgres-process.js'));
  const dir = path.join(os.tmpdir(), `rapport-faults-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const proc = new PostgresProcess({ dataDir: path.join(dir, 'pgdata'), port, user: 'rapport', password, settings: { max_connections: '100' } });
  await proc.initialise();
  await proc.start();
  const base = `postgres://rapport:${password}@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE rapport');
  await admin.end();
  let paused = [];
  let destroyed = false;
  return {
    url: `${base}/rapport`,
    port,
    stop: () => proc.stop(),
    start: () => proc.start(),
    /** SIGSTOP the postmaster and every backend (as `docker pause` does). */
    pause() {
      paused = proc.pid ? [proc.pid, ...childrenOf(proc.pid)] : [];
      for (const pid of paused) process.kill(pid, 'SIGSTOP');
    },
    resume() {
      for (const pid of paused) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone
        }
      }
      paused = [];
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      this.resume();
      await proc.stop(5_000).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `rapport start` (one process) against `databaseUrl` on `port`; resolves once it listens. `env`
 * adds settings (e.g. RAPPORT_PG_*). The child's stderr is kept for the report when it dies.
 */
export async function startRapport({ databaseUrl, port, env = {} }) {
  const proc = spawn(process.execPath, [CLI, 'start'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', NODE_ENV: 'production', RAPPORT_RATE_LIMIT: '1000000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d) => {
    log += d;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rapport did not start: ${log.slice(-2000)}`)), 90_000);
    const check = () => {
      if (log.includes('rapport is listening')) {
        clearTimeout(timer);
        proc.stdout.off('data', check);
        resolve();
      }
    };
    proc.stdout.on('data', check);
    void exited.then(({ code }) => (clearTimeout(timer), reject(new Error(`rapport exited with ${code}: ${log.slice(-2000)}`))));
  });
  return { proc, url: `http://127.0.0.1:${port}`, exited, log: () => log };
}

/** Creates an ingest key with the CLI; returns the secret. */
export async function createIngestKey(databaseUrl) {
  const { stdout } = await run(process.execPath, [CLI, 'keys', 'create', '--role', 'ingest'], { env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'error' } });
  return stdout.trim();
}

/** Stored rows and distinct messageIds among `messageIds` (lost = sent - distinct; duplicated = rows - distinct). */
export async function countStored(databaseUrl, prefix) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT count(*)::int AS rows, count(DISTINCT message_id)::int AS distinct_ids FROM rapport_event WHERE message_id LIKE $1`,
      [`${prefix}%`],
    );
    return rows[0];
  } finally {
    await c.end();
  }
}

/**
 * Polls `/health` every `everyMs` until stopped: counts the answers by status, and the attempts
 * that got no HTTP answer at all (connection refused or reset: the server was down).
 */
export function watchHealth(url, everyMs = 200) {
  const seen = { polls: 0, noAnswer: 0, byStatus: {} };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      seen.polls++;
      try {
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(15_000) });
        seen.byStatus[r.status] = (seen.byStatus[r.status] ?? 0) + 1;
        await r.arrayBuffer();
      } catch {
        seen.noAnswer++;
      }
      await sleep(everyMs);
    }
  })();
  return { seen, stop: async () => ((stopped = true), await loop, seen) };
}

/**
 * Sends `count` track events with messageIds `${prefix}${i}` through @segment/analytics-node at
 * about `perSecond`, then flushes; `at(ms, fn)` hooks run the fault at a point of the stream.
 * Returns what the SDK reported (delivered and failed callbacks) and the HTTP statuses it saw.
 */
export async function sendWithSdk({ url, writeKey, count, prefix, perSecond = 2000, maxRetries = 10, hooks = [] }) {
  const { Analytics } = require('@segment/analytics-node');
  const analytics = new Analytics({ writeKey, host: url, path: '/v1/batch', maxRetries, flushAt: 100, flushInterval: 200, httpRequestTimeout: 20_000 });
  const statuses = {};
  analytics.on('http_request', () => undefined);
  analytics.on('http_response', (r) => (statuses[r.status] = (statuses[r.status] ?? 0) + 1));
  let delivered = 0;
  let failed = 0;
  const t0 = Date.now();
  const pending = [...hooks].sort((a, b) => a.atMs - b.atMs);
  const running = [];
  for (let i = 0; i < count; i++) {
    while (pending.length && Date.now() - t0 >= pending[0].atMs) running.push(pending.shift().run());
    analytics.track(
      { userId: `fault-user-${i % 500}`, event: 'Fault Stream', messageId: `${prefix}${i}`, properties: { i } },
      (err) => (err ? failed++ : delivered++),
    );
    const due = t0 + ((i + 1) * 1000) / perSecond;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  while (pending.length) {
    const next = pending.shift();
    const wait = t0 + next.atMs - Date.now();
    if (wait > 0) await sleep(wait);
    running.push(next.run());
  }
  await Promise.all(running);
  await analytics.closeAndFlush({ timeout: 120_000 });
  return { sent: count, delivered, failed, httpStatuses: statuses, seconds: (Date.now() - t0) / 1000 };
}

/** Prints the scenario's one-line JSON summary on stdout; the exit code (set here) is 0 when it held, 1 when not. */
export function report(summary) {
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = summary.ok ? 0 : 1;
}
