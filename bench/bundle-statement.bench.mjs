// The profile bundle statement alone, in PostgreSQL, by how it reads each profile's first events page (a design
// measurement for docs/benchmarks.md, "Reads beside PostGraphile 4"): statements a second with pgbench, 4 clients,
// 9 profiles a statement (the coalesced read of ~9 concurrent requests), each variant in turn for a few rounds.
//   row-fn:      rapport_event_page, a SQL function returning whole rows (what the bundle used before)
//   newest-fn:   rapport_event_newest, a PL/pgSQL function returning the columns without context and traits (used now)
//   inline:      ORDER BY timestamp DESC, id DESC LIMIT n inline (fastest, but its plan depends on statistics: rejected)
// Usage: first seed a database you keep, e.g.
//   DATABASE_URL=postgres://postgres@127.0.0.1:55432/rvp node bench/read-vs-postgraphile.bench.mjs --pairs 1 --servers rapport
// then: node bench/bundle-statement.bench.mjs --database-url postgres://postgres@127.0.0.1:55432/rvp [--rounds 3] [--seconds 6] [--mode prepared]
// Needs `pgbench` on the PATH (postgresql-client). Writes bench/results/bundle-statement[-extended].json.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { machine } from './lib/machine.mjs';
import { numberArg, stringArg } from './lib/args.mjs';

const URL_ = stringArg('database-url', process.env.DATABASE_URL);
if (!URL_) throw new Error('--database-url (or DATABASE_URL): a database seeded by bench/read-vs-postgraphile.bench.mjs');
const ROUNDS = numberArg('rounds', 3);
const SECONDS = numberArg('seconds', 6);
const MODE = stringArg('mode', 'prepared');
if (!['prepared', 'extended'].includes(MODE)) throw new Error('--mode: prepared or extended');

const db = new pg.Client({ connectionString: URL_ });
await db.connect();
await db.query(`CREATE TABLE IF NOT EXISTS bench_bundle_ids AS SELECT row_number() OVER () AS n, id FROM rapport_profile WHERE merged_into IS NULL`);
await db.query(`CREATE INDEX IF NOT EXISTS bench_bundle_ids_n ON bench_bundle_ids (n)`);
await db.query('ANALYZE bench_bundle_ids');
const profiles = Number((await db.query('SELECT count(*) AS n FROM bench_bundle_ids')).rows[0].n);
if (profiles < 100) throw new Error(`only ${profiles} profiles: seed the database first (see the usage)`);
await db.end();

const ids = `ARRAY(SELECT id FROM bench_bundle_ids WHERE n BETWEEN :r AND :r + 8)`;
const head = `SELECT q.asked, p.id, p.merged_into, p.traits, p.trait_sources, p.created_at, p.updated_at,
  (SELECT COALESCE(json_agg(json_build_object('purpose', c.purpose, 'granted', c.granted, 'source', c.source, 'at', c.at, 'expires_at', c.expires_at) ORDER BY c.purpose), '[]'::json)
     FROM rapport_consent c WHERE c.profile_id = p.id) AS consents,
  (SELECT COALESCE(json_agg(json_build_object('type', i.type, 'value', i.value, 'profileId', i.profile_id, 'originProfileId', i.origin_profile_id, 'firstSeenAt', i.first_seen_at) ORDER BY i.type, i.first_seen_at, i.value), '[]'::json)
     FROM rapport_identity i WHERE i.profile_id = p.id) AS identities,`;
const tail = `FROM unnest(${ids}) AS q(asked) JOIN rapport_profile t ON t.id = q.asked JOIN rapport_profile p ON p.id = COALESCE(t.merged_into, t.id);`;
const json = (a) => `json_build_object('id', ${a}.id::text, 'profileId', ${a}.profile_id, 'type', ${a}.type, 'name', ${a}.name, 'timestamp', ${a}.timestamp, 'properties', ${a}.properties)`;
const VARIANTS = {
  'row-fn': `(SELECT COALESCE(json_agg(${json('(f.ev)')} ORDER BY (f.ev).timestamp DESC, (f.ev).id DESC), '[]'::json)
     FROM rapport_event_page(ARRAY[p.id], ARRAY['infinity'::timestamptz], ARRAY[9223372036854775807::bigint], 11) f) AS events`,
  'newest-fn': `(SELECT COALESCE(json_agg(${json('e')} ORDER BY e.timestamp DESC, e.id DESC), '[]'::json)
     FROM rapport_event_newest(p.id, 11) e) AS events`,
  inline: `(SELECT COALESCE(json_agg(${json('e')} ORDER BY e.timestamp DESC, e.id DESC), '[]'::json)
     FROM (SELECT e.id, e.profile_id, e.type, e.name, e.timestamp, e.properties FROM rapport_event e WHERE e.profile_id = p.id ORDER BY e.timestamp DESC, e.id DESC LIMIT 11) e) AS events`,
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bundle-'));
const u = new URL(URL_);
const rounds = [];
for (let round = 1; round <= ROUNDS; round++) {
  const tps = {};
  for (const [name, events] of Object.entries(VARIANTS)) {
    const file = path.join(dir, `${name}.sql`);
    fs.writeFileSync(file, `\\set r random(1, ${profiles - 9})\n${head} ${events.replace(/\s+/g, ' ')} ${tail.replace(/\s+/g, ' ')}\n`);
    const out = execFileSync('pgbench', ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres'), '-n', '-M', MODE, '-c', '4', '-j', '1', '-T', String(SECONDS), '-f', file, u.pathname.slice(1)], {
      encoding: 'utf8', env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password || '') },
    });
    const m = /tps = ([\d.]+)/.exec(out);
    if (!m || /failed transactions: [1-9]/.test(out)) throw new Error(`${name}: pgbench did not run cleanly:\n${out}`);
    tps[name] = Math.round(Number(m[1]));
  }
  rounds.push(tps);
  console.log(JSON.stringify({ round, ...tps }));
}
fs.rmSync(dir, { recursive: true, force: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const result = {
  bench: 'bundle-statement', date: new Date().toISOString(), machine: machine(), mode: MODE, clients: 4, profilesPerStatement: 9, seconds: SECONDS, rounds,
  medianStatementsPerSecond: Object.fromEntries(Object.keys(VARIANTS).map((k) => [k, median(rounds.map((r) => r[k]))])),
};
console.log(JSON.stringify(result.medianStatementsPerSecond));
fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
fs.writeFileSync(new URL(`./results/bundle-statement${MODE === 'prepared' ? '' : `-${MODE}`}.json`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
