// Samples what a PostgreSQL's client backends are doing while a bench runs: every 5 ms, each active backend's wait
// event (or CPU, when it waits on nothing) and the start of its statement; prints the counts. Run it beside a bench
// that uses the same cluster (DATABASE_URL), for example:
//   node bench/pg-waits.mjs --url postgres://postgres@127.0.0.1:55432/postgres --database rb --ms 25000 &
//   DATABASE_URL=postgres://postgres@127.0.0.1:55432/rb node bench/ingest.bench.mjs
import pg from 'pg';
import { numberArg, stringArg } from './lib/args.mjs';

const url = stringArg('url', process.env.DATABASE_URL);
if (!url) throw new Error('--url (or DATABASE_URL): the cluster to sample');
const database = stringArg('database', null);
const ms = numberArg('ms', 20_000);
const client = new pg.Client({ connectionString: url });
await client.connect();
const counts = new Map();
let samples = 0;
for (const end = Date.now() + ms; Date.now() < end; ) {
  const { rows } = await client.query(
    `SELECT coalesce(wait_event_type, 'CPU') || ':' || coalesce(wait_event, '-') || ' | ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS k
       FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND state = 'active' AND pid <> pg_backend_pid() AND ($1::text IS NULL OR datname = $1)`,
    [database],
  );
  if (rows.length) samples++;
  for (const r of rows) counts.set(r.k, (counts.get(r.k) ?? 0) + 1);
  await new Promise((r) => setTimeout(r, 5));
}
await client.end();
console.log(`${samples} samples with an active backend`);
for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(n).padStart(6), k);
