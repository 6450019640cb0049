// A 4-step ordered funnel with a 7-day window, two ways, side by side on the same data (then retention, lifecycle and
// paths on the same store, timed the same way):
//   journeys: the plugin's funnel (runFunnel: over core's events read in place; an ordered funnel without exclusions or
//             per-step windows is computed set-wise with window functions; consent on people);
//   plain:    chained subqueries over core's raw events table (rapport_event), the way one writes it without the
//             plugin (each step the earliest matching event after the previous one, within 7 days of the first),
//             with the same consent rule.
// Data: the seeded generator of synthetic journeys (packages/plugins/journeys/src/eval/synthetic-journeys.ts), written
// straight into rapport_profile and rapport_event (core's triggers add the outbox rows; delivery is not timed here).
// Usage: npx tsc -b && flock -x /tmp/rapport-bench.lock node bench/journeys-funnel.bench.mjs [--events 1000000] [--people 100000] [--runs 5]
//        [--seed-only | --reuse] (with DATABASE_URL: seed once, then time the stored data)
// DATABASE_URL: an empty database to use; otherwise a fresh embedded PostgreSQL in a temporary directory.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { createRapport, createLogger } = require('../packages/core/dist/internal');
const { journeysPlugin, runFunnel, funnelSql, checkFunnel, checkRetention, runRetention, checkLifecycle, runLifecycle, checkPaths, runPaths } = require('../packages/plugins/journeys/dist');
const { generateJourneys } = require('../packages/plugins/journeys/dist/eval/synthetic-journeys');

const EVENTS = arg('events', 1_000_000);
const PEOPLE = arg('people', 100_000);
const RUNS = arg('runs', 5);
const STEPS = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed'];
const NOISE = ['Page Scrolled', 'Search Performed', 'Banner Clicked', 'Review Read'];
const WINDOW_S = 7 * 86400;
const START = Date.UTC(2026, 0, 1);

// Not created here: the embedded PostgreSQL creates it with the owner it needs.
const dataDir = path.join(os.tmpdir(), `rapport-journeys-bench-${process.pid}`);
const plugin = journeysPlugin();
const core = await createRapport(
  {
    // No statement timeout: seeding copies a million rows in one statement (a server keeps its 10 s timeout).
    database: {
      ...(process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { embedded: { dataDir: path.join(dataDir, 'pgdata'), port: 56000 + (process.pid % 1000) } }),
      statementTimeoutMs: 0,
      queryTimeoutMs: 0,
    },
    plugins: [plugin],
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }),
  },
  { background: false },
);
const ctx = core.pluginContext(plugin);
const q = (sql, params) => ctx.db.query(sql, params);
// Seeding goes through a plain pg client: its long statements (10M rows) on a busy machine must not be taken for a
// stalled server by core's connection watch (which drops a statement when a 3-s probe gets no answer).
const pg = require('pg');
const seeder = new pg.Client({ connectionString: core.db.dataSource.options.url });
await seeder.connect();
const seed = async (sql, params) => (await seeder.query(sql, params)).rows;

try {
  // Seed (or, with --reuse on DATABASE_URL, keep what an earlier --seed-only run stored: the generator is seeded, so
  // the planted truth is the same; seeding 10M events takes minutes and need not hold the bench lock).
  if ((process.argv.includes('--seed-only') || process.argv.includes('--reuse')) && !process.env.DATABASE_URL) throw new Error('--seed-only and --reuse need DATABASE_URL');
  const t0 = performance.now();
  const [{ n: already }] = await q("SELECT count(*)::int AS n FROM rapport_event WHERE message_id LIKE 'bench-%'");
  const reuse = process.argv.includes('--reuse') && already > 0;
  const g = generateJourneys({ seed: 42, people: PEOPLE, steps: STEPS, noise: NOISE, eventsPerPerson: Math.max(STEPS.length, Math.round(EVENTS / PEOPLE)), windowMs: WINDOW_S * 1000, startMs: START });
  if (!reuse) {
    const ids = [];
    for (let i = 0; i < PEOPLE; i += 10_000) {
      const rows = await seed('INSERT INTO rapport_profile (id) SELECT gen_random_uuid() FROM generate_series(1, $1) RETURNING id', [Math.min(10_000, PEOPLE - i)]);
      ids.push(...rows.map((r) => r.id));
    }
    const CHUNK = 20_000;
    for (let i = 0; i < g.events.length; i += CHUNK) {
      const c = g.events.slice(i, i + CHUNK);
      await seed(
        `INSERT INTO rapport_event (message_id, profile_id, origin_profile_id, type, name, properties, timestamp, received_at)
         SELECT 'bench-' || m, p, p, 'track', n, pr, to_timestamp(ts / 1000.0), now()
           FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::jsonb[], $5::bigint[]) AS u(m, p, n, pr, ts)`,
        [c.map((e) => e.id), c.map((e) => ids[e.person]), c.map((e) => e.name), c.map((e) => JSON.stringify(e.props)), c.map((e) => e.ts)],
      );
    }
    await seed('VACUUM ANALYZE rapport_event');
    await seed('VACUUM ANALYZE rapport_profile');
  }
  if (process.argv.includes('--seed-only')) {
    console.log(`seeded ${EVENTS} events in ${Math.round((performance.now() - t0) / 1000)} s`);
    process.exit(0);
  }
  const seedS = reuse ? null : (performance.now() - t0) / 1000;
  const [{ n: stored }] = await q('SELECT count(*)::int AS n FROM rapport_event');

  // The two queries.
  const spec = checkFunnel({ steps: STEPS.map((event) => ({ event })), windowSeconds: WINDOW_S, mode: 'ordered', bins: 10 });
  // The plugin's default: the people in 2 parts, counted concurrently on two connections (one core each) and merged;
  // and the same in one statement.
  const journeys = async () => (await runFunnel(ctx, spec, 5)).series[0].steps.map((s) => s.entered);
  const onePart = async () => (await runFunnel(ctx, spec, 5, { parts: 1 })).series[0].steps.map((s) => s.entered);
  const consent = ctx.consent.sql('s1.profile_id', 'analytics');
  const step = (k) => `s${k} AS (
      SELECT s${k - 1}.profile_id, s${k - 1}.t1, min(e.timestamp) AS t${k}
        FROM s${k - 1} JOIN rapport_event e ON e.profile_id = s${k - 1}.profile_id AND e.type = 'track' AND e.name = $${k}
         AND e.timestamp >= s${k - 1}.t${k - 1} AND e.timestamp <= s${k - 1}.t1 + interval '${WINDOW_S} seconds'
       GROUP BY 1, 2)`;
  const PLAIN = `
    WITH s1 AS (SELECT profile_id, timestamp AS t1 FROM rapport_event s1 WHERE type = 'track' AND name = $1 AND ${consent}),
    ${[2, 3, 4].map(step).join(',\n    ')}
    SELECT (SELECT count(DISTINCT profile_id) FROM s1)::int AS a, (SELECT count(DISTINCT profile_id) FROM s2)::int AS b,
           (SELECT count(DISTINCT profile_id) FROM s3)::int AS c, (SELECT count(DISTINCT profile_id) FROM s4)::int AS d`;
  const plain = async () => Object.values((await q(PLAIN, STEPS))[0]);

  const time = async (fn) => {
    await fn(); // warm-up
    const ms = [];
    let out;
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      out = await fn();
      ms.push(performance.now() - s);
    }
    ms.sort((a, b) => a - b);
    return { medianMs: Math.round(ms[Math.floor(ms.length / 2)]), minMs: Math.round(ms[0]), maxMs: Math.round(ms.at(-1)), result: out };
  };
  if (process.argv.includes('--explain')) {
    const { sql, params } = funnelSql(ctx, spec);
    for (const r of await q(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)) console.log(r['QUERY PLAN']);
  }
  const loadBefore = os.loadavg().map((l) => +l.toFixed(2));
  const a = await time(journeys);
  const a1 = await time(onePart);
  const b = await time(plain);
  // Retention, lifecycle and paths on the same store (the bar for retention: under 1 s at 1M events).
  const weeks = { period: 'week', from: new Date(START), periods: 8 };
  const retention = await time(async () => (await runRetention(ctx, checkRetention({ startEvent: STEPS[0], returnEvent: STEPS[3], ...weeks }), 5)).cohorts[0].cells.map((c) => c.count));
  const lifecycle = await time(async () => (await runLifecycle(ctx, checkLifecycle({ event: STEPS[3], ...weeks }), 5)).periods.map((p) => p.new));
  const paths = await time(async () => (await runPaths(ctx, checkPaths({ event: STEPS[0], direction: 'next', depth: 3, from: null, to: null }), 5)).edges.length);
  const truth = STEPS.map((_, i) => g.reached.filter((r) => r > i).length);
  const result = {
    bench: 'journeys-funnel', when: new Date().toISOString(), machine: machine(), loadAverage: { before: loadBefore, after: os.loadavg().map((l) => +l.toFixed(2)) }, events: stored, people: PEOPLE, seedSeconds: seedS === null ? 'reused an earlier --seed-only run' : Math.round(seedS),
    funnel: '4-step ordered, 7-day window, no date range, consent applied', runs: RUNS,
    journeys: a, journeysOnePart: a1, plain: b, plantedTruth: truth,
    retention: { query: 'weekly, 8 periods, first Product Viewed -> Order Completed', ...retention },
    lifecycle: { query: 'weekly, 8 periods, Order Completed', ...lifecycle },
    paths: { query: 'next 3 steps after the first Product Viewed (edges answered)', ...paths }, agree: JSON.stringify(a.result) === JSON.stringify(b.result) && JSON.stringify(a1.result) === JSON.stringify(a.result) && JSON.stringify(a.result) === JSON.stringify(truth),
    sql: funnelSql(ctx, spec).sql.replace(/\s+/g, ' ').slice(0, 200) + '...',
  };
  console.log(JSON.stringify(result, null, 2));
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync(`bench/results/journeys-funnel-${EVENTS}.json`, JSON.stringify(result, null, 2) + '\n');
} finally {
  await seeder.end();
  await core.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
