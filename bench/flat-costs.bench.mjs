// Flat read costs as data grows (issue 14, point 3): the latency of each read over GraphQL, and
// PostgreSQL's plan for it, at 10k, 1M and 10M events.
//
// Each size is its own database in one kept embedded PostgreSQL cluster (--data-dir, default
// /tmp/rapport-flat-costs/pgdata), loaded once with SQL (INSERT ... SELECT generate_series, same
// tables, migrations run by the server first) and re-used by later runs. Skew: 80% of events on
// "light" profiles of about 4.5 events each, 10% on 10 medium profiles, 10% on one heavy profile
// (1M events at 10M). Events are in time order, one a second, ending at END; a light profile is
// active around the time it was created. Then, per size, a server in its own process and, per read,
// 30 warm-up requests and --requests (300) sequential ones; p50/p99 of those.
//
// Usage: npm run build && flock -x /tmp/rapport-bench.lock node bench/flat-costs.bench.mjs [--sizes 10000,1000000,10000000] [--requests 300] [--data-dir DIR]
import fs from 'node:fs';
import pg from 'pg';
import { startEmbeddedPostgres } from '../packages/core/dist/internal.js';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { stringArg as arg } from './lib/args.mjs';

const SIZES = arg('sizes', '10000,1000000,10000000').split(',').map(Number);
const REQUESTS = Number(arg('requests', 300));
const DATA_DIR = arg('data-dir', '/tmp/rapport-flat-costs/pgdata');
const END = '2026-01-01T00:00:00Z';
const CHUNK = 1_000_000;

/** Light profiles for n events. */
const lightCount = (n) => Math.ceil((n * 0.8) / 4.5);

/** Loads n events (and their profiles and identities) into an empty, migrated database. */
async function load(client, n) {
  const L = lightCount(n);
  const t0 = Date.now();
  await client.query('BEGIN'); // all or nothing: a failed load leaves an empty database to load again
  await client.query(`ALTER TABLE rapport_event DISABLE TRIGGER rapport_event_outbox`); // a bench has no plugin to deliver to
  await client.query(
    `INSERT INTO rapport_profile (id, traits, created_at, updated_at)
     SELECT md5('flat-' || j)::uuid, jsonb_build_object('email', 'user' || j || '@example.com', 'plan', CASE WHEN j % 10 = 0 THEN 'pro' ELSE 'free' END),
            $2::timestamptz - ($1::int * interval '1 second') + (j * 4.5) * interval '1 second', now()
       FROM generate_series(0, $3::int - 1) j`,
    [n, END, L],
  );
  await client.query(
    `INSERT INTO rapport_profile (id, traits, created_at, updated_at)
     SELECT md5(k)::uuid, jsonb_build_object('plan', 'pro'), $2::timestamptz - ($1::int * interval '1 second'), now()
       FROM unnest(ARRAY['flat-heavy', 'flat-m-0', 'flat-m-1', 'flat-m-2', 'flat-m-3', 'flat-m-4', 'flat-m-5', 'flat-m-6', 'flat-m-7', 'flat-m-8', 'flat-m-9']) k`,
    [n, END],
  );
  await client.query(
    `INSERT INTO rapport_identity (type, value, profile_id, origin_profile_id, first_seen_at) SELECT 'user_id', 'u' || j, md5('flat-' || j)::uuid, md5('flat-' || j)::uuid, now() FROM generate_series(0, $1::int - 1) j`,
    [L],
  );
  for (let from = 1; from <= n; from += CHUNK) {
    const to = Math.min(n, from + CHUNK - 1);
    await client.query(
      `INSERT INTO rapport_event (message_id, profile_id, origin_profile_id, type, name, properties, context, timestamp, received_at)
       SELECT 'flat-' || s.n, s.pid, s.pid, s.type, s.name, jsonb_build_object('price', 9.99, 'sku', 'p-' || (s.n % 500)), '{"library": {"name": "bench"}}', s.ts, s.ts
         FROM (SELECT n,
                 CASE WHEN n % 10 = 0 THEN md5('flat-heavy')::uuid
                      WHEN n % 10 = 1 THEN md5('flat-m-' || (n / 10) % 10)::uuid
                      ELSE md5('flat-' || least($4::int - 1, greatest(0, floor(n * 0.8 / 4.5)::int + ((n * 2654435761) % 7)::int - 3)))::uuid END AS pid,
                 CASE WHEN n % 13 = 0 THEN 'identify' WHEN n % 7 = 0 THEN 'page' ELSE 'track' END AS type,
                 CASE WHEN n % 13 = 0 THEN NULL WHEN n % 7 = 0 THEN (ARRAY['Home', 'Pricing'])[1 + n % 2]
                      ELSE (ARRAY['Product Viewed', 'Added to Cart', 'Order Completed'])[1 + n % 3] END AS name,
                 $3::timestamptz - (($5::bigint - n) * interval '1 second') AS ts
                FROM generate_series($1::bigint, $2::bigint) n) s`,
      [from, to, END, L, n],
    );
    console.error(`  ${to.toLocaleString()} of ${n.toLocaleString()} events (${Math.round((Date.now() - t0) / 1000)} s)`);
  }
  await client.query(`ALTER TABLE rapport_event ENABLE TRIGGER rapport_event_outbox`);
  await client.query(`CREATE TABLE bench_flat_loaded (events bigint, seconds int)`);
  await client.query(`INSERT INTO bench_flat_loaded VALUES ($1, $2)`, [n, Math.round((Date.now() - t0) / 1000)]);
  await client.query('COMMIT');
  await client.query('VACUUM ANALYZE');
}

const PAGE = `query($id: ID!, $first: Int, $after: String, $type: String, $name: String) {
  profile(id: $id) { events(first: $first, after: $after, type: $type, name: $name) { nodes { type name timestamp } pageInfo { endCursor } } } }`;
const LIST = `query($f: ProfileFilter) { profiles(first: 20, filter: $f) { nodes { id } } }`;

/** The reads measured at each size: GraphQL query and variables (a function of the request number). */
function reads(n, ids, cursor) {
  const L = lightCount(n);
  const light = (i) => ids.light[i % ids.light.length];
  const end = Date.parse(END);
  return {
    'events page, light profile': [PAGE, (i) => ({ id: light(i), first: 10 })],
    'events page, heavy profile': [PAGE, () => ({ id: ids.heavy, first: 10 })],
    'events page, heavy, type and name': [PAGE, () => ({ id: ids.heavy, first: 10, type: 'track', name: 'Order Completed' })],
    'events page, heavy, name only': [PAGE, () => ({ id: ids.heavy, first: 10, name: 'Pricing' })],
    'events page, heavy, type identify': [PAGE, () => ({ id: ids.heavy, first: 10, type: 'identify' })],
    'events page, heavy, after a cursor': [PAGE, () => ({ id: ids.heavy, first: 10, after: cursor })],
    'profiles seenSince, no match': [LIST, () => ({ f: { seenSince: new Date(end + 86_400_000).toISOString() } })],
    'profiles seenSince, last 10 minutes': [LIST, () => ({ f: { seenSince: new Date(end - 600_000).toISOString() } })],
    'profiles identity filter': [LIST, (i) => ({ f: { identity: { type: 'user_id', value: `u${(i * 7919) % L}` } } })],
    'profiles traits filter, one match': [LIST, (i) => ({ f: { traits: { email: `user${(i * 7919) % L}@example.com` } } })],
    'profiles traits filter, 10% match': [LIST, () => ({ f: { traits: { plan: 'pro' } } })],
  };
}

async function gql(server, query, variables) {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Plans of the SQL behind the reads (nested statements of the page functions included). */
async function plans(client, ids, end) {
  const notices = [];
  const onNotice = (m) => notices.push(m.message);
  client.on('notice', onNotice);
  await client.query(`LOAD 'auto_explain'`);
  await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off; SET auto_explain.log_level = notice; SET client_min_messages = notice`);
  const NO = ['{infinity}', '{9223372036854775807}'];
  const out = {};
  const capture = async (name, sql, params) => {
    notices.length = 0;
    await client.query(sql, params);
    out[name] = notices.filter((t) => t.includes(' on rapport_')).map((t) => t.slice(t.search(/\n(Nested Loop|Limit|Result|Sort|Index|Merge|Hash|Incremental)/) + 1));
  };
  await capture('events page, heavy profile', `SELECT f.n, (f.ev).* FROM rapport_event_page($1::uuid[], $2::timestamptz[], $3::bigint[], $4::int) f`, [[ids.heavy], ...NO, 11]);
  await capture('events page, heavy, type and name', `SELECT f.n, (f.ev).* FROM rapport_event_page_type_name($1::uuid[], $2::timestamptz[], $3::bigint[], $4, $5, $6::int) f`, [[ids.heavy], ...NO, 'track', 'Order Completed', 11]);
  await capture('events page, heavy, name only', `SELECT f.n, (f.ev).* FROM rapport_event_page_name($1::uuid[], $2::timestamptz[], $3::bigint[], $4, $5::int) f`, [[ids.heavy], ...NO, 'Pricing', 11]);
  const list = (cond) => `SELECT p.id FROM rapport_profile p WHERE p.merged_into IS NULL AND ${cond} ORDER BY p.created_at, p.id LIMIT 21`;
  await capture('profiles seenSince, no match', list('p.id IN (SELECT a.profile_id FROM rapport_profile_activity a WHERE a.last_seen_at >= $1)'), [new Date(end + 86_400_000)]);
  await capture('profiles seenSince, last 10 minutes', list('p.id IN (SELECT a.profile_id FROM rapport_profile_activity a WHERE a.last_seen_at >= $1)'), [new Date(end - 600_000)]);
  await capture('profiles traits filter, one match', list('p.traits @> $1::jsonb'), [JSON.stringify({ email: 'user7@example.com' })]);
  await capture('profiles traits filter, 10% match', list('p.traits @> $1::jsonb'), [JSON.stringify({ plan: 'pro' })]);
  client.off('notice', onNotice);
  await client.query(`SET auto_explain.log_min_duration = -1`);
  return out;
}

const cluster = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: 55400, database: 'postgres' });
const results = [];
try {
  for (const n of SIZES) {
    const db = await startEmbeddedPostgres({ dataDir: DATA_DIR, port: 55400, database: `flat_${n}` });
    process.env.DATABASE_URL = db.url;
    const server = await startServerProcess(); // migrates the database
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const loaded = (await client.query(`SELECT to_regclass('bench_flat_loaded') IS NOT NULL AS ok`)).rows[0].ok;
      if (!loaded) {
        console.error(`loading ${n.toLocaleString()} events into flat_${n}`);
        await load(client, n);
      }
      const [{ seconds }] = (await client.query('SELECT seconds FROM bench_flat_loaded')).rows;
      const ids = { heavy: (await client.query(`SELECT md5('flat-heavy')::uuid AS id`)).rows[0].id };
      ids.light = (await client.query(`SELECT md5('flat-' || ((j * 7919) % $1))::uuid AS id FROM generate_series(1, 200) j`, [lightCount(n)])).rows.map((r) => r.id);
      const sizes = (await client.query(`SELECT (SELECT count(*) FROM rapport_event WHERE profile_id = $1)::int AS heavy, (SELECT count(*) FROM rapport_profile)::int AS profiles,
        pg_size_pretty(pg_total_relation_size('rapport_event')) AS events_size`, [ids.heavy])).rows[0];
      const cursor = (await gql(server, PAGE, { id: ids.heavy, first: 500 > 200 ? 200 : 500 })).profile.events.pageInfo.endCursor;
      const measured = {};
      for (const [name, [query, vars]] of Object.entries(reads(n, ids, cursor))) {
        for (let i = 0; i < 30; i++) await gql(server, query, vars(i));
        const ms = [];
        for (let i = 0; i < REQUESTS; i++) {
          const t = performance.now();
          await gql(server, query, vars(i + 30));
          ms.push(performance.now() - t);
        }
        ms.sort((a, b) => a - b);
        measured[name] = { p50: +pct(ms, 50).toFixed(2), p99: +pct(ms, 99).toFixed(2) };
        console.error(`${n} ${name}: p50 ${measured[name].p50} ms, p99 ${measured[name].p99} ms`);
      }
      results.push({ events: n, heavyProfileEvents: sizes.heavy, profiles: sizes.profiles, eventsTableSize: sizes.events_size, loadSeconds: seconds, latencyMs: measured, plans: await plans(client, ids, Date.parse(END)) });
    } finally {
      await client.end();
      await server.stop();
    }
  }
} finally {
  await cluster.stop();
}
const result = { bench: 'flat-costs', date: new Date().toISOString(), machine: machine(), requestsPerRead: REQUESTS, sequential: true, results };
fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
fs.writeFileSync(new URL('./results/flat-costs.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(results.map((r) => ({ events: r.events, ...Object.fromEntries(Object.entries(r.latencyMs).map(([k, v]) => [k, `${v.p50}/${v.p99}`])) })), null, 1));
