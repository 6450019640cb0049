import { execFile, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { CLI, startCli } from './support/cli-process';

const run = promisify(execFile);
let db: TestDatabase;
let primary: ChildProcess | null = null;
let url = '';
let key = '';

/** One request on a new connection (no keep-alive), so that the cluster spreads them over its workers. */
function request(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of the sample `name{...labels}` in an exposition (0 when absent). */
function sample(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.split(',').every((p) => l.includes(p)));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

beforeAll(async () => {
  // The CLI runs from dist: build first.
  await run('npx', ['tsc', '-b'], { cwd: process.cwd() });
  db = await createTestDatabase();
  const started = await startCli(['--workers', '2'], { ...process.env, DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', NODE_ENV: 'production' }, { timeoutMs: 60_000 });
  primary = started.proc;
  url = started.url;
  key = (await run(process.execPath, [CLI, 'keys', 'create', '--role', 'metrics'], { env: { ...process.env, DATABASE_URL: db.url } })).stdout.trim();
}, 180_000);

afterAll(async () => {
  if (primary && primary.exitCode === null) {
    const exited = new Promise((r) => primary!.once('exit', r));
    primary.kill('SIGTERM');
    await exited;
  }
  await db?.drop();
});

describe('/metrics with --workers 2', () => {
  it('a scrape on the shared port counts the requests every worker served', async () => {
    const n = 20;
    for (let i = 0; i < n; i++) {
      const r = await request('POST', '/graphql', JSON.stringify({ query: 'query ClusterProbe { __typename }' }));
      expect(r.status).toBe(200);
    }
    // Whichever worker answers the scrape, the answer is the sum over both.
    for (let i = 0; i < 4; i++) {
      const scrape = await request('GET', '/metrics');
      expect(scrape.status).toBe(200);
      expect(sample(scrape.text, 'rapport_graphql_operation_duration_seconds_count', 'operation="ClusterProbe"')).toBe(n);
      // Each worker's pool (10 connections by default), summed.
      expect(scrape.text).toMatch(/^rapport_db_pool_max_connections 20$/m);
    }
  });
});
