import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { CLI, ROOT, startCli as spawnCli } from './support/cli-process';
import { until } from './support/until';

const run = promisify(execFile);
let db: TestDatabase;
let primary: ChildProcess | null = null;
let url = '';
let key = '';

/** Child pids of a process (the cluster's workers). */
async function childrenOf(pid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
}

async function health(): Promise<number> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ health { status } }' }),
  });
  return res.status;
}

/** Spawns `rapport start` with these arguments against the test database; resolves once it listens. */
function startCli(args: string[], extraEnv: Record<string, string> = {}) {
  return spawnCli(args, { ...process.env, DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production', ...extraEnv }, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'packages/server/dist/cluster.js'))) await run('npx', ['tsc', '-b'], { cwd: ROOT });
  db = await createTestDatabase();
  const started = await startCli(['--workers', '2']);
  primary = started.proc;
  url = started.url;
  key = (await run(process.execPath, [CLI, 'keys', 'create', '--role', 'app'], { env: { ...process.env, DATABASE_URL: db.url } })).stdout.trim();
}, 90_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) primary.kill('SIGKILL');
  await db?.drop();
});

describe('rapport start --workers', () => {
  it('serves from several worker processes on one port', async () => {
    const workers = await childrenOf(primary!.pid!);
    expect(workers.length).toBe(2);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => health()));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const [victim, survivor] = await childrenOf(primary!.pid!);
    process.kill(victim, 'SIGKILL');
    // A kept-alive connection to the dead worker is reset; a new one reaches the other worker.
    const status = await health().catch(() => health()).catch(() => health());
    expect(status).toBe(200);
    const now = await until(() => childrenOf(primary!.pid!), (pids) => pids.length === 2 && !pids.includes(victim));
    expect(now).toContain(survivor);
    await until(() => health().catch(() => 0), (s) => s === 200);
  });

  it.skipIf(os.availableParallelism() < 2)('--workers auto starts no more workers than PostgreSQL has connections for', async () => {
    // A pool of 400 per worker: no PostgreSQL here has the connections for two.
    const { proc, lines } = await startCli(['--workers', 'auto'], { RAPPORT_PG_POOL: '400' });
    try {
      const warning = lines().map((l) => JSON.parse(l)).find((l) => l.msg?.startsWith('fewer workers than CPUs'));
      expect(warning).toMatchObject({ asked: os.availableParallelism(), workers: 1, connectionsPerWorker: 404 });
      expect(lines().map((l) => JSON.parse(l)).find((l) => l.msg === 'rapport is listening')).toMatchObject({ workers: 1 });
      expect(await childrenOf(proc.pid!)).toHaveLength(1);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  }, 90_000);

  it('SIGTERM stops the workers, then the primary exits 0', async () => {
    const workers = await childrenOf(primary!.pid!);
    const exited = new Promise<number | null>((r) => primary!.once('exit', (code) => r(code)));
    primary!.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});
