// Journey stages under load: how long from sending an event to its stage change being stored, at 500 events/s?
// A server in its own process (this script forked with --child: fresh embedded PostgreSQL, the journeys plugin, a
// 5-stage journey defined over GraphQL) receives /v1/batch requests of 10 events every 20 ms for --seconds (default
// 60) from background users walking through the stages (Page Viewed, Product Viewed, Order Completed x3, then random).
// Every second batch carries one probe: a new user's first Page Viewed, which moves them into the first stage. The
// parent reads the plugin's change log (journeys_stage_change) every 5 ms and takes, per probe, the time from the
// send of its batch to the first poll that sees its change. Reports p50, p95, p99 and max over the probes sent after a
// warm-up (--warmup, default 15 s, at the same rate: a cold server builds a backlog of several seconds in its first
// seconds, core's delivery included; reported separately as warmupP99Ms).
// Usage: npx tsc -b && flock -x /tmp/rapport-bench.lock node bench/journeys-stages.bench.mjs [--seconds 60] [--warmup 15] [--rate 500] [--users 2000]
//        (writes bench/results/journeys-stages.json, with the load average, how late the generator sent, the ingestion
//        requests' times, both processes' CPU, and p99 per 10 s of the measured window).
//        BENCH_TRACE=1 adds `trace`: per delivery batch its size, its events' wait from receipt to the handler, the
//        handler's statements by kind and the commit; core's claim and load; the pool sampled every 20 ms
//        (BENCH_TRACE=2 also logs every batch; BENCH_TRACE_FILE=<path> keeps every batch, statement and pool sample).
//        BENCH_EXPLAIN=<path> writes EXPLAIN ANALYZE of the evaluation statement (100 people) at the end of the run.
//        BENCH_NO_JOURNEY=1 defines no journey (to see core's delivery alone with BENCH_TRACE; no latency is measured).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * With BENCH_TRACE=1, times each delivery batch: its size, how long its newest and oldest events waited between being
 * received and the handler starting (delivery wake-up and queueing), the handler's statements grouped by kind, and the
 * commit. The summary goes to the parent (results `trace`); BENCH_TRACE=2 also logs every batch on stderr.
 */
const trace = { batches: [], statements: new Map(), claims: [], loads: [] };
const label = (sql) => {
  const s = sql.replace(/\s+/g, ' ').trim();
  if (s.startsWith('INSERT INTO journeys_trait')) return 'trait upsert';
  if (s.startsWith('SELECT p.id AS profile_id')) return 'stage evaluation';
  if (s.includes('journeys_stage_change')) return 'change log';
  if (s.includes('journeys_stage_history')) return 'stage history';
  if (s.includes('journeys_stage ')) return 'stage upsert';
  if (s.includes('pg_notify')) return 'notify';
  if (s.includes('pg_advisory_xact_lock')) return 'stage lock';
  if (s.includes('journeys_definition')) return 'load journeys';
  return s.slice(0, 40);
};
function traced(plugin) {
  if (!process.env.BENCH_TRACE) return plugin;
  const handle = plugin.delivery.handle;
  // The wait is measured from each event's receipt: load that field too.
  if (plugin.delivery.eventFields) plugin.delivery.eventFields = [...plugin.delivery.eventFields, 'receivedAt'];
  plugin.delivery.handle = async (changes, ctx) => {
    const t0 = performance.now();
    const now = Date.now();
    const received = changes.filter((c) => c.kind === 'event').map((c) => c.event.receivedAt.getTime());
    const stmts = {};
    let lastStatementEnd = 0;
    let txEnd = 0;
    const wrapTx = (tx) => ({
      query: async (sql, params) => {
        const s = performance.now();
        try { return await tx.query(sql, params); } finally {
          lastStatementEnd = performance.now();
          const k = label(sql);
          stmts[k] = (stmts[k] ?? 0) + (lastStatementEnd - s);
        }
      },
    });
    // The context is frozen: wrap by prototype.
    const transaction = async (work) => { const r = await ctx.db.transaction((tx) => work(wrapTx(tx))); txEnd = performance.now(); return r; };
    const db = Object.create(ctx.db, { transaction: { value: transaction } });
    const tctx = Object.create(ctx, { db: { value: db } });
    trace.ctx = ctx;
    await handle(changes, tctx);
    const ms = performance.now() - t0;
    const b = { n: changes.length, ms, newestWaitMs: received.length ? now - Math.max(...received) : 0, oldestWaitMs: received.length ? now - Math.min(...received) : 0, commitMs: txEnd - lastStatementEnd, stmts, at: now };
    trace.batches.push(b);
    if (process.env.BENCH_TRACE === '2') console.error(`batch ${b.n} ${Math.round(ms)} ms, waited ${b.newestWaitMs}-${b.oldestWaitMs} ms, ${Object.entries(stmts).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}, commit ${Math.round(b.commitMs)}`);
  };
  return plugin;
}

/** With BENCH_TRACE, times the delivery transport's claim (the outbox read) and load (reading the events). */
function traceTransport(server) {
  if (!process.env.BENCH_TRACE) return;
  const transport = server.core.services.delivery?.transport;
  if (!transport) return;
  trace.ops = [];
  for (const [name, list] of [['claim', trace.claims], ['load', trace.loads], ['advance', []], ['release', []]]) {
    const f = transport[name].bind(transport);
    transport[name] = async (...a) => {
      const s = performance.now();
      let out;
      try { out = await f(...a); return out; } finally {
        const ms = performance.now() - s;
        list.push(ms);
        trace.ops.push({ op: name, at: Date.now() - ms, ms: Math.round(ms), rows: name === 'claim' ? out?.rows?.length ?? -1 : name === 'load' ? out?.length : undefined });
      }
    };
  }
  // The pool: callers waiting for a connection, sampled every 20 ms.
  trace.pool = [];
  setInterval(() => { const p = server.core.db.poolStats(); trace.pool.push([Date.now(), p.total, p.idle, p.waiting]); }, 20).unref();
}

/** Percentiles and total of a list of numbers. */
function summary(list) {
  const l = [...list].sort((a, b) => a - b);
  const at = (x) => Math.round(l[Math.min(l.length - 1, Math.floor(x * l.length))] ?? 0);
  return { n: l.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: Math.round(l.at(-1) ?? 0), sum: Math.round(l.reduce((a, b) => a + b, 0)) };
}

function traceSummary(fromMs) {
  const bs = trace.batches.filter((b) => b.at >= fromMs);
  const kinds = [...new Set(bs.flatMap((b) => Object.keys(b.stmts)))];
  return {
    batches: bs.length,
    batchSize: summary(bs.map((b) => b.n)),
    handlerMs: summary(bs.map((b) => b.ms)),
    newestEventWaitMs: summary(bs.map((b) => b.newestWaitMs)),
    oldestEventWaitMs: summary(bs.map((b) => b.oldestWaitMs)),
    commitMs: summary(bs.map((b) => b.commitMs)),
    statementsMs: Object.fromEntries(kinds.map((k) => [k, summary(bs.map((b) => b.stmts[k] ?? 0))])),
    claimMs: summary(trace.claims),
    loadMs: summary(trace.loads),
  };
}

if (process.argv.includes('--child')) {
  // The server: built packages, journeys plugin, an admin key handed to the parent.
  require('reflect-metadata');
  const { startServer } = require('../packages/server/dist');
  const { journeysPlugin } = require('../packages/plugins/journeys/dist');
  const dataDir = path.join(os.tmpdir(), `rapport-stages-bench-${process.pid}`);
  const server = await startServer({
    database: { embedded: { dataDir: path.join(dataDir, 'pgdata'), port: 57000 + (process.pid % 1000) }, poolSize: 20 },
    api: { rateLimitPerMinute: 1e9, maxComplexity: 1e6 },
    plugins: [traced(journeysPlugin())],
    port: 0,
  });
  traceTransport(server);
  const admin = await server.core.services.keys.create({ name: 'bench-admin', roles: ['admin'] });
  process.send({ url: server.url, databaseUrl: server.core.db.dataSource.options.url, key: admin.key });
  process.on('message', async (m) => {
    if (m?.traceFrom && process.env.BENCH_EXPLAIN && trace.ctx) {
      // EXPLAIN ANALYZE of the evaluation statement for 100 people at the run's data size.
      const { stageEvaluationSql } = require('../packages/plugins/journeys/dist/plugin/stage.query');
      const { journeyEventsSql } = require('../packages/plugins/journeys/dist/plugin/journey-events.relation');
      const { loadJourneys } = require('../packages/plugins/journeys/dist/plugin/journey-definition.store');
      const ctx = trace.ctx;
      const [j] = await loadJourneys(ctx.db);
      const ids = (await ctx.db.query(`SELECT profile_id FROM ${ctx.events.all()} e WHERE e.type = 'track' ORDER BY random() LIMIT 100`)).map((r) => r.profile_id);
      const { sql, params } = stageEvaluationSql(j, Date.now(), ctx.consent.sql('p.id', 'analytics'), (names) => journeyEventsSql(ctx, names));
      params[0] = ids;
      params[1] = ids.map(() => -1); // every stage evaluated (stage.query.ts)
      params[2] = ids.map(() => -1);
      const plan = await ctx.db.transaction(async (tx) => {
        await tx.query('SET LOCAL jit = off');
        return tx.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      });
      const plain = async (q, ps) => (await ctx.db.query(`EXPLAIN ${q}`, ps)).map((r) => r['QUERY PLAN']).join('\n');
      const others = [
        await plain('UPDATE journeys_stage_history SET left_at = now() WHERE journey = $1 AND profile_id = ANY($2::uuid[]) AND left_at IS NULL', ['Lifecycle', ids]),
        await plain('DELETE FROM journeys_stage WHERE journey = $1 AND profile_id = ANY($2::uuid[])', ['Lifecycle', ids]),
        await plain('SELECT * FROM rapport_event WHERE id = ANY($1::bigint[])', [['1', '2', '3']]),
        await plain(`WITH lease AS (SELECT tx, id, attempts FROM rapport_delivery_cursor WHERE consumer = $1)
           SELECT l.attempts, o.id::text AS id FROM lease l LEFT JOIN LATERAL (
             SELECT o.id, o.tx FROM rapport_outbox o WHERE (o.tx, o.id) > (l.tx, l.id) AND o.tx < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY o.tx, o.id LIMIT 500) o ON true ORDER BY o.tx, o.id`, ['journeys']),
        await plain(`SELECT o.id::text AS id FROM rapport_outbox o WHERE (o.tx, o.id) > ($1::xid8, $2::bigint) AND o.tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY o.tx, o.id LIMIT 500`, ['1', '1']),
      ];
      fs.writeFileSync(process.env.BENCH_EXPLAIN, `${sql}\n\n${plan.map((r) => r['QUERY PLAN']).join('\n')}\n\n${others.join('\n\n')}\n`);
    }
    if (m?.traceFrom && process.env.BENCH_TRACE_FILE) fs.writeFileSync(process.env.BENCH_TRACE_FILE, JSON.stringify({ batches: trace.batches, ops: trace.ops, pool: trace.pool }));
    if (m?.traceFrom) return process.send({ trace: process.env.BENCH_TRACE ? traceSummary(m.traceFrom) : null, cpu: process.cpuUsage() });
    if (m !== 'stop') return;
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
} else {
  await main();
}

async function main() {
  const SECONDS = arg('seconds', 60);
  const WARMUP = arg('warmup', 15);
  const RATE = arg('rate', 500);
  const USERS = arg('users', 2000);
  const PER_BATCH = 10;
  const TICK_MS = (1000 * PER_BATCH) / RATE;
  const child = fork(fileURLToPath(import.meta.url), ['--child'], {
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const server = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)));
  });
  const { Client } = require('pg');
  const db = new Client({ connectionString: server.databaseUrl });
  await db.connect();
  const post = async (p, body) => {
    const r = await fetch(`${server.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.key}` },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: await r.json() };
  };
  try {
    const journey = {
      name: 'Lifecycle',
      stages: [
        { name: 'Awareness', when: [{ event: 'Page Viewed' }] },
        { name: 'Consideration', when: [{ event: 'Product Viewed' }] },
        { name: 'Purchase', when: [{ event: 'Order Completed' }] },
        { name: 'Loyalty', when: [{ event: 'Order Completed', atLeast: 3, withinSeconds: 90 * 86400 }] },
        { name: 'At risk', when: [{ event: 'Order Completed' }, { event: 'Order Completed', withinSeconds: 30 * 86400, absent: true }] },
      ],
    };
    const d = process.env.BENCH_NO_JOURNEY ? {} : await post('/graphql', { query: 'mutation($i: JourneyInput!) { defineJourney(input: $i) { name } }', variables: { i: journey } });
    if (d.body?.errors) throw new Error(JSON.stringify(d.body.errors));

    // The poller: first time each profile appears in the change log.
    const seen = new Map();
    let cursor = '0';
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const r = await db.query('SELECT id::text, profile_id::text FROM journeys_stage_change WHERE id > $1::bigint ORDER BY id LIMIT 10000', [cursor]);
        const now = performance.now();
        for (const row of r.rows) if (!seen.has(row.profile_id)) seen.set(row.profile_id, now);
        if (r.rows.length) cursor = r.rows.at(-1).id;
        await new Promise((res) => setTimeout(res, 5));
      }
    })();

    const SCRIPT = ['Page Viewed', 'Product Viewed', 'Order Completed', 'Order Completed', 'Order Completed'];
    const OTHER = ['Page Viewed', 'Product Viewed', 'Order Completed', 'Search Performed'];
    const step = new Array(USERS).fill(0);
    const event = (userId, name) => (name === 'Page Viewed' ? { type: 'page', userId, name: 'Home' } : { type: 'track', userId, event: name, properties: { plan: 'pro' } });
    const probes = []; // { sentAt, profileId }, after the warm-up
    const warmupProbes = [];
    const failures = [];
    const inFlight = new Set();
    let sent = 0;
    let probeNo = 0;
    const start = performance.now();
    const measureFrom = start + WARMUP * 1000;
    const measureFromWall = Date.now() + WARMUP * 1000;
    const lateMs = []; // how late the load generator sent each batch (this process's CPU and event loop)
    const postMs = []; // each /v1/batch request's time (ingestion: stored and committed when it answers)
    const cpu0 = process.cpuUsage();
    for (let tick = 0; performance.now() - start < (WARMUP + SECONDS) * 1000; tick++) {
      const due = start + tick * TICK_MS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      const batch = [];
      const probeAt = tick % 2 === 0 ? 0 : -1;
      for (let i = 0; i < PER_BATCH; i++) {
        if (i === probeAt) {
          batch.push(event(`probe-${probeNo++}`, 'Page Viewed'));
          continue;
        }
        const u = Math.floor(Math.random() * USERS);
        const name = step[u] < SCRIPT.length ? SCRIPT[step[u]] : OTHER[Math.floor(Math.random() * OTHER.length)];
        step[u]++;
        batch.push(event(`user-${u}`, name));
      }
      const sentAt = performance.now();
      const warm = sentAt >= measureFrom;
      if (warm) lateMs.push(sentAt - due);
      const p = post('/v1/batch', { batch })
        .then((r) => {
          if (warm) postMs.push(performance.now() - sentAt);
          if (r.status !== 200) return failures.push(r.status);
          if (probeAt >= 0) (warm ? probes : warmupProbes).push({ sentAt, profileId: r.body.results[probeAt].profileId });
        })
        .catch((err) => failures.push(String(err)))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      sent += batch.length;
    }
    const sendSeconds = (performance.now() - start) / 1000;
    const loadAverage = os.loadavg().map((x) => Math.round(x * 100) / 100);
    const parentCpu = process.cpuUsage(cpu0);
    const sentMeasured = sent;
    await Promise.all([...inFlight]);
    // Let the last probes land (at most 30 s).
    const end = performance.now() + 30_000;
    while ([...probes, ...warmupProbes].some((p) => !seen.has(p.profileId)) && performance.now() < end) await new Promise((res) => setTimeout(res, 50));
    polling = false;
    await poller;

    const latencyOf = (list) => list.filter((p) => seen.has(p.profileId)).map((p) => seen.get(p.profileId) - p.sentAt).sort((a, b) => a - b);
    const latencies = latencyOf(probes);
    const warmup = latencyOf(warmupProbes);
    const pick = (l, x) => Math.round(l[Math.min(l.length - 1, Math.floor(x * l.length))] * 10) / 10;
    const q = (x) => pick(latencies, x);
    const [{ n: changes }] = (await db.query('SELECT count(*)::int AS n FROM journeys_stage_change')).rows;
    const childInfo = await new Promise((res) => {
      child.once('message', res);
      child.send({ traceFrom: measureFromWall });
    });
    const stats = (l) => {
      const x = [...l].sort((a, b) => a - b);
      const at = (f) => Math.round(x[Math.min(x.length - 1, Math.floor(f * x.length))] * 10) / 10;
      return { p50: at(0.5), p99: at(0.99), max: Math.round(x.at(-1) * 10) / 10 };
    };
    const stages = (await db.query("SELECT stage, count(*)::int AS n FROM journeys_stage WHERE journey = 'Lifecycle' GROUP BY stage ORDER BY min(stage_index)")).rows;
    // How long the plugin's delivery stepped back for requests over the whole run (warm-up included): 0 when it never
    // fell behind while the requests saturated the server (docs/plugins.md#when-requests-come-first-stepping-back-in-a-burst).
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.key}` } })).text();
    const stepBack = /^rapport_delivery_step_back_seconds_total\{plugin="journeys"\} (\S+)$/m.exec(metrics);
    const result = {
      machine: machine(),
      seconds: SECONDS,
      warmupSeconds: WARMUP,
      targetRate: RATE,
      achievedRate: Math.round(sentMeasured / sendSeconds),
      events: sentMeasured,
      users: USERS,
      probes: probes.length,
      probesMissing: probes.length - latencies.length,
      failures: failures.length,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      maxMs: Math.round(latencies.at(-1) * 10) / 10,
      warmupP50Ms: pick(warmup, 0.5),
      warmupP99Ms: pick(warmup, 0.99),
      loadAverage,
      generatorLateMs: stats(lateMs),
      ingestRequestMs: stats(postMs),
      generatorCpuSeconds: Math.round((parentCpu.user + parentCpu.system) / 1e4) / 100,
      serverProcessCpuSeconds: Math.round((childInfo.cpu.user + childInfo.cpu.system) / 1e4) / 100,
      // p99 of the probes sent in each 10 s of the measured window: a backlog left by the warm-up shows at the start.
      p99By10s: Array.from({ length: Math.ceil(SECONDS / 10) }, (_, i) => {
        const l = latencyOf(probes.filter((p) => p.sentAt >= measureFrom + i * 10_000 && p.sentAt < measureFrom + (i + 1) * 10_000));
        return l.length ? pick(l, 0.99) : null;
      }),
      stageChanges: changes,
      deliveryStepBackSeconds: stepBack ? Number(stepBack[1]) : 0,
      population: Object.fromEntries(stages.map((s) => [s.stage, s.n])),
      ...(childInfo.trace ? { trace: childInfo.trace } : {}),
    };
    fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench/results/journeys-stages.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
  } finally {
    await db.end().catch(() => {});
    await new Promise((res) => {
      child.removeAllListeners('exit');
      child.once('exit', res);
      child.send('stop');
    });
  }
}
