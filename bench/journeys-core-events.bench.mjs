// A design measurement for issue 16's ingestion bar: could the journeys plugin answer from core's events instead of
// copying every event into its own store (journeys_event)? The copy is most of what the plugin costs per event ingested
// (docs/benchmarks.md#with-the-journeys-plugin-loaded). This bench runs the plugin's own funnel, retention, lifecycle
// and paths statements twice on the same data: as they are (over journeys_event), and with journeys_event replaced by
// a relation over rapport_event (the step name, the time in epoch ms, the properties), served by one more index on
// core's events, (type, name, timestamp) INCLUDE (profile_id, id). It reports each query's median time both ways and
// whether the answers agree, the index's build time and size. It is not the product's code path: the statements are
// rewritten as text here, to learn what the change would cost before making it.
// Data: a database seeded by `bench/journeys-funnel.bench.mjs --seed-only` (synthetic track events only, so the
// relation maps a track event's name; page and screen views would map as eventName does).
// Usage: npx tsc -b && DATABASE_URL=postgres://... node bench/journeys-funnel.bench.mjs --events 1000000 --people 100000 --seed-only
//        DATABASE_URL=postgres://... flock -x /tmp/rapport-bench.lock node bench/journeys-core-events.bench.mjs [--runs 5] [--keep-index]
// The index is created on that database if missing, and dropped at the end unless --keep-index.
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const pg = require('pg');
const { createRapport, createLogger } = require('../packages/core/dist/internal');
const J = require('../packages/plugins/journeys/dist');

if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL: a database seeded by bench/journeys-funnel.bench.mjs --seed-only');
const RUNS = arg('runs', 5);
const STEPS = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed'];
const START = Date.UTC(2026, 0, 1);
const INDEX = 'bench_event_type_name_time_idx';

const plugin = J.journeysPlugin();
const core = await createRapport(
  { database: { url: process.env.DATABASE_URL, statementTimeoutMs: 0, queryTimeoutMs: 0 }, plugins: [plugin], logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }) },
  { background: false },
);
const ctx = core.pluginContext(plugin);
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();
try {
  const [{ n: events }] = (await client.query('SELECT count(*)::int AS n FROM journeys_event')).rows;
  if (events === 0) throw new Error('journeys_event is empty: seed the database with bench/journeys-funnel.bench.mjs --seed-only first');
  const [{ n: untracked }] = (await client.query("SELECT count(*)::int AS n FROM rapport_event WHERE type <> 'track'")).rows;
  if (untracked > 0) throw new Error('the relation below maps track events only; this database holds other types');

  const t0 = performance.now();
  const had = (await client.query('SELECT 1 FROM pg_class WHERE relname = $1', [INDEX])).rows.length > 0;
  if (!had) await client.query(`CREATE INDEX ${INDEX} ON rapport_event (type, name, timestamp) INCLUDE (profile_id, id)`);
  const indexSeconds = had ? null : +((performance.now() - t0) / 1000).toFixed(1);
  await client.query('VACUUM ANALYZE rapport_event');
  const [{ size }] = (await client.query('SELECT pg_size_pretty(pg_relation_size($1::regclass)) AS size', [INDEX])).rows;

  // journeys_event's columns, from core's events: what a host relation over them would give the plugin.
  const CORE = `(SELECT r.id AS event_id, r.profile_id, r.name, floor(extract(epoch FROM r.timestamp) * 1000)::bigint AS ts,
                        r.properties AS props FROM rapport_event r WHERE r.type = 'track')`;
  const overCore = (sql) => sql.replace(/journeys_event( [a-z]\b)?/g, (_m, alias) => `${CORE}${alias ?? ' journeys_event'}`);
  const weeks = { period: 'week', from: new Date(START), periods: 8 };
  const queries = {
    funnel: J.funnelSql(ctx, J.checkFunnel({ steps: STEPS.map((event) => ({ event })), windowSeconds: 7 * 86400, mode: 'ordered', bins: 10 })),
    retention: J.retentionSql(ctx, J.checkRetention({ startEvent: STEPS[0], returnEvent: STEPS[3], ...weeks })),
    lifecycle: J.lifecycleSql(ctx, J.checkLifecycle({ event: STEPS[3], ...weeks })),
    paths: J.pathsSql(ctx, J.checkPaths({ event: STEPS[0], direction: 'next', depth: 3, from: null, to: null })),
  };
  // A funnel row's times to convert are an unordered list: compared as sorted lists.
  const canonical = (name, rows) => JSON.stringify(rows.map((r) => JSON.stringify(name === 'funnel' ? { ...r, d: r.d.map((x) => x && x.split(',').sort().join(',')) } : r)).sort());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  await client.query("SET work_mem = '64MB'");
  const loadBefore = os.loadavg().map((l) => +l.toFixed(2));
  const results = {};
  for (const [name, { sql, params }] of Object.entries(queries)) {
    const out = {};
    const answers = {};
    // One warm-up each, then the two ways by turns.
    for (const [way, text] of [['store', sql], ['core', overCore(sql)]]) {
      answers[way] = canonical(name, (await client.query(text, params)).rows);
      out[way] = [];
    }
    for (let i = 0; i < RUNS; i++) {
      for (const [way, text] of i % 2 ? [['core', overCore(sql)], ['store', sql]] : [['store', sql], ['core', overCore(sql)]]) {
        const t = performance.now();
        await client.query(text, params);
        out[way].push(Math.round(performance.now() - t));
      }
    }
    results[name] = { storeMs: median(out.store), coreMs: median(out.core), store: out.store, core: out.core, sameAnswer: answers.store === answers.core };
    console.log(JSON.stringify({ query: name, ...results[name] }));
  }
  if (!had && !process.argv.includes('--keep-index')) await client.query(`DROP INDEX ${INDEX}`);
  const result = {
    bench: 'journeys-core-events', when: new Date().toISOString(), machine: machine(), events, runs: RUNS,
    loadAverage: { before: loadBefore, after: os.loadavg().map((l) => +l.toFixed(2)) },
    index: { definition: `(type, name, timestamp) INCLUDE (profile_id, id)`, buildSeconds: indexSeconds ?? 'existed', size },
    note: 'one part (runFunnel splits the funnel in two parts on two connections; this times funnelSql alone)',
    results,
  };
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  fs.writeFileSync(new URL(`./results/journeys-core-events-${events}.json`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
} finally {
  await client.end();
  await core.close();
}
