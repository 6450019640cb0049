// Where a batch's PostgreSQL CPU goes, statement by statement: the CPU of the one backend running each statement
// (read from /proc, so PostgreSQL must run on this machine: the embedded one by default), one statement at a time on
// an otherwise idle server, over a database holding the ingest bench's data. Usage:
//   npm run build && node bench/ingest-statements.bench.mjs [--rounds 40] [--events 50000] [--users 10000]
// It stores the ingest bench's messages through /v1/batch first, then, in rounds (the order alternating):
//   - the events INSERT as ingestion sends it (text arrays through unnest) against the floor's multi-row VALUES, 500
//     rows into empty copies of rapport_event without triggers;
//   - the events INSERT into rapport_event with its triggers, without any, and with each alone (rolled back);
//   - rapport_ingest_read for a batch of 500 tracks of known people (rolled back), and its parts alone.
// DATABASE_URL selects another PostgreSQL on this machine (its backends' /proc must be readable).
import fs from 'node:fs';
import pg from 'pg';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';
import { chunks, makeEvents, pool } from './lib/ingest-events.mjs';
import { jsonLines, plainArray, textArray } from '../packages/core/dist/database/sql-array.encoder.js';
import { eventsInsertStatement } from '../packages/core/dist/ingestion/ingestion.service.js';

const ROUNDS = arg('rounds', 40);
const EVENTS = arg('events', 50_000);
const USERS = arg('users', 10_000);
const BATCH = 500;

const server = await startServerProcess();
const db = new pg.Client({ connectionString: server.databaseUrl });
try {
  const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
  await pool(chunks(makeEvents(EVENTS, USERS), BATCH), 4, async (batch) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch }) });
    if (res.status !== 200) throw new Error(`batch failed: ${res.status} ${await res.text()}`);
  });
  await db.connect();
  await db.query('VACUUM ANALYZE');
  const pid = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  // CPU milliseconds (user + system) of this connection's backend so far; /proc counts in ticks of 10 ms.
  const cpuMs = () => {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  };
  const { rows: sample } = await db.query('SELECT * FROM rapport_event WHERE type = $1 ORDER BY id LIMIT $2', ['track', BATCH]);
  let generation = 0;
  // The sample's rows with new message ids (and later timestamps, so the activity trigger changes something).
  const fresh = () => {
    generation++;
    return sample.map((r) => ({ ...r, message_id: `${r.message_id}-${generation}`, timestamp: new Date(r.timestamp.getTime() + generation * 1000) }));
  };

  const unnestInsert = (table, rs) => db.query(
    eventsInsertStatement(table),
    [
      textArray(rs.map((r) => r.message_id)), plainArray(rs.map((r) => r.profile_id)), plainArray(rs.map(() => null)), textArray(rs.map((r) => r.type)),
      textArray(rs.map((r) => r.name)), textArray(rs.map((r) => r.user_id)), textArray(rs.map((r) => r.anonymous_id)), jsonLines(rs.map((r) => r.properties)),
      jsonLines(rs.map((r) => r.traits)), jsonLines(rs.map((r) => r.context)), jsonLines(rs.map((r) => r.integrations)), plainArray(rs.map((r) => r.timestamp)),
      plainArray(rs.map((r) => r.original_timestamp)), plainArray(rs.map((r) => r.sent_at)), plainArray(rs.map((r) => r.received_at)), null,
      textArray(rs.map((r) => r.group_id)), textArray(rs.map((r) => r.category)),
    ],
  );
  const valuesInsert = (table, rs) => {
    const values = [];
    const params = [];
    for (const r of rs) {
      const p = params.length;
      params.push(r.message_id, r.profile_id, r.profile_id, r.type, r.name, r.user_id, r.anonymous_id, JSON.stringify(r.properties), r.traits ? JSON.stringify(r.traits) : null,
        JSON.stringify(r.context), r.timestamp.toISOString(), r.received_at.toISOString());
      values.push(`(${Array.from({ length: 12 }, (_, k) => `$${p + k + 1}`).join(',')})`);
    }
    return db.query(`INSERT INTO ${table} (message_id, profile_id, origin_profile_id, type, name, user_id, anonymous_id, properties, traits, context, timestamp, received_at) VALUES ${values.join(',')}`, params);
  };
  const readArgs = (round) => {
    const u0 = (round * BATCH) % USERS;
    const users = Array.from({ length: BATCH }, (_, k) => `user-${(u0 + k) % USERS}`);
    return [textArray(users.map((u) => `stmt-${round}-${u}`)), textArray(users.map(() => 'user_id')), textArray(users), plainArray(users.map((_, k) => k)), false];
  };
  const OWNED = `WITH owned AS MATERIALIZED (SELECT DISTINCT o.profile_id FROM unnest($1::text[], $2::text[]) AS n(type, value)
    CROSS JOIN LATERAL (SELECT i.profile_id FROM rapport_identity i WHERE i.type = n.type AND i.value = n.value LIMIT 1) o)`;

  // Each case: [setup in the transaction, the measured statement]; every case runs in a transaction rolled back after.
  const cases = {
    'insert: unnest of text arrays (ingestion), no triggers': [null, (rs) => unnestInsert('stmt_unnest', rs)],
    'insert: multi-row VALUES (the floor), no triggers': [null, (rs) => valuesInsert('stmt_values', rs)],
    'events insert: with both triggers': [null, (rs) => unnestInsert('rapport_event', rs)],
    'events insert: no trigger': ['SET LOCAL session_replication_role = replica', (rs) => unnestInsert('rapport_event', rs)],
    'events insert: the outbox trigger alone': ['ALTER TABLE rapport_event DISABLE TRIGGER rapport_event_activity_insert', (rs) => unnestInsert('rapport_event', rs)],
    'events insert: the activity trigger alone': ['ALTER TABLE rapport_event DISABLE TRIGGER rapport_event_outbox', (rs) => unnestInsert('rapport_event', rs)],
    'read: rapport_ingest_read, 500 tracks of known people': [null, (_, a) => db.query('SELECT json_agg(r) FROM rapport_ingest_read($1::text[], $2::text[], $3::text[], $4::int[], $5::boolean) AS r', a)],
    'read part: the advisory locks': [null, (_, a) => db.query(`SELECT count(*) FROM (SELECT pg_advisory_xact_lock(q.key) FROM (SELECT DISTINCT hashtextextended(x.s, 0) AS key
        FROM (SELECT 'm:' || m FROM unnest($1::text[]) AS u(m) UNION ALL SELECT 'i:' || t || ':' || v FROM unnest($2::text[], $3::text[]) AS n(t, v)) AS x(s) ORDER BY 1) q) z`, a.slice(0, 3))],
    'read part: duplicates': [null, (_, a) => db.query('SELECT count(*) FROM rapport_event e WHERE e.message_id = ANY($1::text[])', a.slice(0, 1))],
    'read part: suppression': [null, (_, a) => db.query(`SELECT count(*) FROM unnest($1::text[], $2::text[]) AS n(type, value) JOIN rapport_suppression s
        ON s.identity_hash = encode(sha256(convert_to(n.type, 'UTF8') || '\\x00'::bytea || convert_to(n.value, 'UTF8')), 'hex')`, a.slice(1, 3))],
    'read part: identity probes': [null, (_, a) => db.query(`${OWNED} SELECT count(*) FROM owned`, a.slice(1, 3))],
    'read part: probes, then the profiles FOR KEY SHARE': [null, (_, a) => db.query(`${OWNED} SELECT count(*) FROM (SELECT p.id FROM rapport_profile p
        WHERE p.id = ANY (ARRAY(SELECT profile_id FROM owned)) ORDER BY p.id FOR KEY SHARE) z`, a.slice(1, 3))],
    'read part: probes, then every identity of the profiles as JSON': [null, (_, a) => db.query(`${OWNED} SELECT json_agg(x) FROM (SELECT i.profile_id,
        json_agg(json_build_array(i.type, i.value)) AS ids FROM rapport_identity i WHERE i.profile_id = ANY (ARRAY(SELECT profile_id FROM owned)) GROUP BY i.profile_id) x`, a.slice(1, 3))],
  };
  for (const t of ['stmt_unnest', 'stmt_values']) {
    await db.query(`DROP TABLE IF EXISTS ${t}`);
    await db.query(`CREATE TABLE ${t} (LIKE rapport_event INCLUDING DEFAULTS INCLUDING INDEXES)`);
  }
  const names = Object.keys(cases);
  const spent = Object.fromEntries(names.map((n) => [n, 0]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const [setup, run] = cases[name];
      const rs = fresh();
      const a = readArgs(round);
      await db.query('BEGIN');
      if (setup) await db.query(setup);
      const c0 = cpuMs();
      await run(rs, a);
      spent[name] += cpuMs() - c0;
      await db.query('ROLLBACK');
    }
  }
  for (const t of ['stmt_unnest', 'stmt_values']) await db.query(`DROP TABLE ${t}`);
  const result = {
    bench: 'ingest-statements', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded',
    events: EVENTS, users: USERS, rowsPerStatement: BATCH, rounds: ROUNDS,
    backendCpuMsPerStatement: Object.fromEntries(names.map((n) => [n, +(spent[n] / ROUNDS).toFixed(2)])),
  };
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  fs.writeFileSync(new URL('./results/ingest-statements.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  await db.end().catch(() => {});
  await server.stop();
}
