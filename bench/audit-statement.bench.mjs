// PostgreSQL's side of the read audit: the backend CPU of one call of rapport_audit_reads writing 14 rows (as many
// requests as share a commit in the guard's bench at 400 requests/s), with the audit log's indexes as migrated, without
// its `(at DESC, id DESC)` index, and with its primary key alone; beside it a function that writes nothing (parameters,
// the call, the commit) and a bare `SELECT 1`. One connection, one call at a time, over 300,000 rows already logged.
// The tables and functions are created here, as migrations 1763800000003 and 1763800000021 create them, in a database
// of the bench's own. The backend's CPU is read from /proc: the database must run on this machine.
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
const { startEmbeddedPostgres } = require('../packages/core/dist/internal');

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
  const setup = async (indexes) => {
    await c.query('DROP TABLE IF EXISTS rapport_audit_log');
    await c.query(`CREATE TABLE rapport_audit_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), key_id uuid NULL,
      actor text NOT NULL, action text NOT NULL, profile_id uuid NULL, fields text[] NOT NULL DEFAULT '{}', purpose text NULL, request_id text NULL)`);
    for (const i of indexes) await c.query(i);
    await c.query(`CREATE OR REPLACE FUNCTION rapport_audit_reads(key_ids uuid[], actors text[], profile_ids uuid[], fields text[], purposes text[], request_ids text[])
      RETURNS void LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields, purpose, request_id)
        SELECT x.k, x.a, 'read', x.p, x.f::text[], x.pu, x.r
          FROM unnest(key_ids, actors, profile_ids, fields, purposes, request_ids) AS x(k, a, p, f, pu, r);
      END $$`);
    await c.query(`CREATE OR REPLACE FUNCTION audit_bench_nothing(key_ids uuid[], actors text[], profile_ids uuid[], fields text[], purposes text[], request_ids text[])
      RETURNS void LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM set_config('synchronous_commit', 'off', true); END $$`);
    await c.query(`INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields, purpose, request_id)
      SELECT $1, 'bench-reader', 'read', ($2::uuid[])[1 + g % 1000], '{Profile.traits.email}', 'personalization', g::text
        FROM generate_series(1, 300000) g`, [key, profiles.slice(0, 1000)]);
    await c.query('VACUUM ANALYZE rapport_audit_log');
  };
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
    'indexes as migrated': ['CREATE INDEX ON rapport_audit_log (profile_id, at DESC)', 'CREATE INDEX ON rapport_audit_log (at DESC, id DESC)'],
    'ascending (at, id), read backwards for the same order': ['CREATE INDEX ON rapport_audit_log (profile_id, at DESC)', 'CREATE INDEX ON rapport_audit_log (at, id)'],
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
