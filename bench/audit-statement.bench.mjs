// PostgreSQL's side of the read audit: the backend CPU of one call of rapport_audit_reads writing 14 rows (as many
// requests as share a commit in the guard's bench at 400 requests/s), with the audit log's indexes before migration
// 1763800000025 and after it, with other layouts, and with its primary key alone; beside it a function that writes
// nothing (parameters, the call, the commit) and a bare `SELECT 1`. One connection, one call at a time, over 300,000
// rows already logged. The audit log and its function come from core's migrations, applied to a database of the
// bench's own. The backend's CPU is read from /proc: the database must run on this machine.
// Usage: npm run build && node bench/audit-statement.bench.mjs [--calls 4000] [--rows 14]   (DATABASE_URL, else an embedded PostgreSQL)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';
import { processCpuSeconds } from './lib/process-cpu.mjs';

const require = createRequire(import.meta.url);
const { Database, startEmbeddedPostgres } = require('../packages/core/dist/internal');

const CALLS = arg('calls', 4000);
const ROWS = arg('rows', 14);
const dataDir = path.join(os.tmpdir(), `rapport-audit-statement-${process.pid}`);
const cluster = process.env.DATABASE_URL ? null : await startEmbeddedPostgres({ dataDir, port: 55411, database: 'audit_statement', ephemeral: true });
const url = process.env.DATABASE_URL ?? cluster.url;
const scratch = `audit_statement_${process.pid}`;
const admin = new pg.Client({ connectionString: url });
await admin.connect();
await admin.query(`CREATE DATABASE ${scratch}`);
const target = new URL(url);
target.pathname = `/${scratch}`;
const c = new pg.Client({ connectionString: target.toString() });
const results = {};
try {
  // Core's migrations, as a server applies them.
  const migrator = new Database({ url: target.toString(), poolSize: 1 });
  await migrator.connect();
  await migrator.close(500);
  await c.connect();
  const [{ pid }] = (await c.query('SELECT pg_backend_pid() AS pid')).rows;
  const { rows: [{ server_version: version }] } = await c.query('SHOW server_version');
  const profiles = Array.from({ length: 10_000 }, () => randomUUID());
  const key = randomUUID();
  // Array literals as ReadAuditWriter sends them (textArray: every element quoted).
  const quoted = (s) => `"${s.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
  const arr = (xs) => `{${xs.map(quoted).join(',')}}`;
  let next = 0;
  const params = () => {
    const ps = Array.from({ length: ROWS }, () => profiles[next++ % profiles.length]);
    return [arr(ps.map(() => key)), arr(ps.map(() => 'bench-reader')), arr(ps), arr(ps.map(() => arr(['Profile.traits.email']))), arr(ps.map(() => 'personalization')), arr(ps.map(() => randomUUID()))];
  };
  // The audit log and rapport_audit_reads as core's migrations make them; each variant then sets the log's indexes
  // (the primary key aside) and starts from the same 300,000 rows.
  const setup = async (indexes) => {
    await c.query('TRUNCATE rapport_audit_log RESTART IDENTITY');
    const { rows: existing } = await c.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = 'rapport_audit_log' AND indexname <> 'rapport_audit_log_pkey'`,
    );
    for (const { indexname } of existing) await c.query(`DROP INDEX ${indexname}`);
    for (const i of indexes) await c.query(i);
    await c.query(`INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields, purpose, request_id)
      SELECT $1, 'bench-reader', 'read', ($2::uuid[])[1 + g % 1000], '{Profile.traits.email}', 'personalization', g::text
        FROM generate_series(1, 300000) g`, [key, profiles.slice(0, 1000)]);
    await c.query('VACUUM ANALYZE rapport_audit_log');
  };
  // The call's fixed part: the same parameters, the call, the commit, and no write.
  await c.query(`CREATE FUNCTION audit_bench_nothing(key_ids uuid[], actors text[], profile_ids uuid[], fields text[], purposes text[], request_ids text[])
    RETURNS void LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM set_config('synchronous_commit', 'off', true); END $$`);
  /** Backend CPU and wall time per call (µs), after a warm-up. */
  const measure = async (text) => {
    const once = () => c.query({ name: text.slice(7, 40), text, values: params() });
    for (let i = 0; i < 300; i++) await once();
    const cpu0 = processCpuSeconds(pid);
    const t0 = performance.now();
    for (let i = 0; i < CALLS; i++) await once();
    return { backendCpuMicrosecondsPerCall: +(((processCpuSeconds(pid) - cpu0) * 1e6) / CALLS).toFixed(1), wallMicrosecondsPerCall: +(((performance.now() - t0) * 1000) / CALLS).toFixed(1) };
  };
  const call = (fn) => `SELECT ${fn}($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[])`;
  const variants = {
    'before migration 1763800000025: (profile_id, at DESC), (at DESC, id DESC)': ['CREATE INDEX ON rapport_audit_log (profile_id, at DESC)', 'CREATE INDEX ON rapport_audit_log (at DESC, id DESC)'],
    'as migrated: (profile_id, at DESC), (at, id) read backwards': ['CREATE INDEX ON rapport_audit_log (profile_id, at DESC)', 'CREATE INDEX ON rapport_audit_log (at, id)'],
    'both ascending: (profile_id, at) and (at, id)': ['CREATE INDEX ON rapport_audit_log (profile_id, at)', 'CREATE INDEX ON rapport_audit_log (at, id)'],
    'without (at DESC, id DESC)': ['CREATE INDEX ON rapport_audit_log (profile_id, at DESC)'],
    'primary key alone': [],
  };
  for (const [name, indexes] of Object.entries(variants)) {
    await setup(indexes);
    results[name] = await measure(call('rapport_audit_reads'));
  }
  results['a function writing nothing'] = await measure(call('audit_bench_nothing'));
  for (let i = 0; i < 300; i++) await c.query({ name: 'select1', text: 'SELECT 1' });
  const cpu0 = processCpuSeconds(pid);
  for (let i = 0; i < CALLS; i++) await c.query({ name: 'select1', text: 'SELECT 1' });
  results['SELECT 1'] = { backendCpuMicrosecondsPerCall: +(((processCpuSeconds(pid) - cpu0) * 1e6) / CALLS).toFixed(1) };
  const out = { bench: 'audit-statement', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded', postgres: version, calls: CALLS, rowsPerCall: ROWS, results };
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  fs.writeFileSync(new URL('./results/audit-statement.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out, null, 2));
} finally {
  await c.end().catch(() => {});
  await admin.query(`DROP DATABASE IF EXISTS ${scratch}`).catch(() => {});
  await admin.end();
  await cluster?.stop();
}
