import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@rapport/testing';
import { Client } from 'pg';
import { CLI, ROOT, startCli, type CliServer } from './support/cli-process';
import { until } from './support/until';

// `rapport start` as users run it: its own embedded PostgreSQL (a private data directory, never the
// run's shared database), stopped by a signal while batches are being stored. The signal goes to
// the whole process group, as Ctrl-C in a terminal or `systemctl stop` sends it.
const run = promisify(execFile);
const dir = path.join(os.tmpdir(), `rapport-shutdown-${randomBytes(4).toString('hex')}`);
let env: NodeJS.ProcessEnv;
let key = '';
let pgPort = 0;
const spawned: ChildProcess[] = [];

/** Starts `rapport start` in its own process group; resolves with its URL once it listens. */
async function start(): Promise<CliServer> {
  const server = await startCli(['--create'], env, { detached: true });
  spawned.push(server.proc);
  key ||= (await run(process.execPath, [CLI, 'keys', 'create', '--role', 'ingest'], { env })).stdout.trim();
  return server;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'packages/server/dist/cli/rapport.cli.js'))) await run('npx', ['tsc', '-b'], { cwd: ROOT });
  fs.mkdirSync(dir, { mode: 0o755 });
  pgPort = await freePort();
  const { DATABASE_URL: _none, ...rest } = process.env;
  env = {
    ...rest, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production',
    RAPPORT_DATA_DIR: path.join(dir, 'pgdata'), RAPPORT_PG_PORT: String(pgPort), RAPPORT_SHUTDOWN_GRACE_MS: '3000',
  };
}, 120_000);

afterAll(async () => {
  for (const p of spawned) if (p.exitCode === null && p.signalCode === null) process.kill(-p.pid!, 'SIGKILL');
  // An embedded PostgreSQL left behind by a failed run: stop it through its pid file.
  const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
  if (fs.existsSync(pidFile)) {
    try {
      process.kill(Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGQUIT');
    } catch {
      // not running
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('rapport start, stopped by a signal', () => {
  it('finishes the batches in flight (all stored, 200), stops PostgreSQL after them, exits 0', async () => {
    const server = await start();
    // The batches are held in flight by a lock on the events table (INSERTs wait for it) until the signal has come:
    // in flight whatever the machine's speed, and let go within the shutdown's grace period.
    const creds = JSON.parse(fs.readFileSync(path.join(dir, 'pgdata.credentials.json'), 'utf8')) as { user: string; password: string };
    const admin = new Client({ connectionString: `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${pgPort}/rapport` });
    admin.on('error', () => undefined); // the cluster is stopped under it
    await admin.connect();
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE rapport_event IN SHARE ROW EXCLUSIVE MODE');
    const batches = Array.from({ length: 4 }, (_, b) =>
      Array.from({ length: 2000 }, (_, i) => ({ type: 'track', userId: `sd-${b}-${i % 50}`, event: 'Shutdown Probe', messageId: `sd-${b}-${i}` })),
    );
    let settled = 0;
    const sent = batches.map((batch) =>
      fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ batch }),
      })
        .then(async (r) => ({ status: r.status, body: (await r.json()) as { accepted?: number; error?: unknown } }))
        .catch((err: Error) => ({ status: -1, body: { error: err.message } }))
        .finally(() => settled++),
    );
    // All four wait on the lock (each has its transaction open, its INSERT queued behind the lock).
    await until(async () => Number((await admin.query(
      `SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'rapport_event' AND NOT l.granted`,
    )).rows[0].count), (n) => n >= 4);
    expect(settled).toBe(0);
    process.kill(-server.proc.pid!, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    await admin.query('COMMIT');
    await admin.end().catch(() => undefined);

    const answers = await Promise.all(sent);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => a.body.accepted)).toEqual([2000, 2000, 2000, 2000]);
    expect(await server.exited).toBe(0);
    expect(await portOpen(pgPort)).toBe(false); // the embedded PostgreSQL was stopped, after the requests
  }, 120_000);

  it('is bounded: a request stuck in the database does not hold the shutdown up past the grace period', async () => {
    const server = await start();
    // Hold a lock the request needs, from an admin connection to the embedded cluster.
    const creds = JSON.parse(fs.readFileSync(path.join(dir, 'pgdata.credentials.json'), 'utf8')) as { user: string; password: string };
    const admin = new Client({ connectionString: `postgres://${creds.user}:${encodeURIComponent(creds.password)}@127.0.0.1:${pgPort}/rapport` });
    admin.on('error', () => undefined); // the cluster is stopped under it
    await admin.connect();
    try {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE rapport_event IN ACCESS EXCLUSIVE MODE');
      const stuck = fetch(`${server.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ userId: 'stuck', event: 'Stuck' }),
      }).then((r) => r.status, () => -1);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      process.kill(server.proc.pid!, 'SIGTERM');
      const code = await Promise.race([server.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect([503, -1]).toContain(await stuck); // answered 503 (retry), or its connection closed: never a 2xx it did not store
    } finally {
      await admin.end().catch(() => undefined);
    }
  }, 120_000);
});
