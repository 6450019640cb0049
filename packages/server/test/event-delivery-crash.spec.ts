import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, ROOT, startCli as spawnCli, type CliServer } from './support/cli-process';

const run = promisify(execFile);

// A plugin in a rapport.config.js, as a user would write it: effects keyed by event id (idempotent),
// and a log of every time it was handed an event. With HANG_AFTER set, it records a batch's effects
// and then never returns: the process is killed between the plugin's work and the cursor's move.
const CONFIG = `
const fs = require('node:fs');
class CreateEffects1800000000000 {
  name = 'CreateEffects1800000000000';
  async up(q) {
    await q.query('CREATE TABLE effect_once (event_id bigint PRIMARY KEY)');
    await q.query('CREATE TABLE effect_try (event_id bigint NOT NULL)');
  }
  async down(q) { await q.query('DROP TABLE effect_once, effect_try'); }
}
module.exports = {
  delivery: { pollMs: 100, leaseMs: 1500 },
  plugins: [{
    name: 'effects',
    migrations: [CreateEffects1800000000000],
    delivery: {
      kinds: ['event'],
      batchSize: 1000,
      async handle(changes, ctx) {
        const ids = changes.map((c) => c.event.id);
        await ctx.db.query('INSERT INTO effect_try (event_id) SELECT unnest($1::bigint[])', [ids]);
        await ctx.db.query('INSERT INTO effect_once (event_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING', [ids]);
        if (process.env.HANG_AFTER) {
          fs.writeFileSync(process.env.HANG_AFTER, String(ids.length));
          await new Promise(() => undefined);
        }
      },
    },
  }],
};
`;

let db: TestDatabase;
let dir: string;
const procs: CliServer[] = [];

async function startCli(extraEnv: Record<string, string> = {}): Promise<string> {
  const server = await spawnCli([], { ...process.env, DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', RAPPORT_CONFIG: path.join(dir, 'rapport.config.js'), ...extraEnv });
  procs.push(server);
  return server.url;
}

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'packages/core/dist/delivery/event-delivery.service.js'))) await run('npx', ['tsc', '-b'], { cwd: ROOT });
  db = await createTestDatabase();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-crash-'));
  fs.writeFileSync(path.join(dir, 'rapport.config.js'), CONFIG);
}, 120_000);

afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('kill -9 between commit and delivery: after a restart every event is delivered, each idempotent effect exactly once', async () => {
  const marker = path.join(dir, 'in-handler');
  const first = await startCli({ HANG_AFTER: marker });
  const key = (await run(process.execPath, [CLI, 'keys', 'create', '--role', 'ingest'], { env: { ...process.env, DATABASE_URL: db.url, RAPPORT_CONFIG: path.join(dir, 'rapport.config.js') } })).stdout.trim();
  const batch = Array.from({ length: 40 }, (_, k) => ({ type: 'track', userId: `crash-${k % 4}`, event: 'Paid', messageId: `crash-${k}` }));
  const res = await fetch(`${first}/v1/batch`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ batch }) });
  expect(res.status).toBe(200);

  // The plugin has done its effects for the batch and hangs before returning: kill the server now.
  const deadline = Date.now() + 30_000;
  while (!fs.existsSync(marker)) {
    if (Date.now() > deadline) throw new Error('the plugin never received the batch');
    await new Promise((r) => setTimeout(r, 50));
  }
  procs[0].proc.kill('SIGKILL');
  await procs[0].exited;

  await startCli();
  const c = new Client({ connectionString: db.url });
  await c.connect();
  try {
    const stored = (await c.query<{ id: string }>(`SELECT id::text FROM rapport_event WHERE message_id LIKE 'crash-%'`)).rows.map((r) => r.id).sort();
    expect(stored).toHaveLength(40);
    // Redelivered after the restart (the first process's lease ran out): the plugin saw the events again...
    const until = Date.now() + 30_000;
    let tries = 0;
    while ((tries = Number((await c.query('SELECT count(*) FROM effect_try')).rows[0].count)) < 80) {
      if (Date.now() > until) throw new Error(`not redelivered: ${tries} tries`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // ...and its idempotent effects hold each event exactly once.
    const once = (await c.query<{ event_id: string }>('SELECT event_id::text FROM effect_once ORDER BY 1')).rows.map((r) => r.event_id).sort();
    expect(once).toEqual(stored);
    const status = await c.query(`SELECT delivered::int, attempts, leased_by FROM rapport_delivery_cursor WHERE consumer = 'effects'`);
    expect(status.rows[0]).toMatchObject({ delivered: 40, attempts: 0, leased_by: null });
  } finally {
    await c.end();
  }
}, 150_000);
