// What the journeys plugin's delivery costs per event, alone: the bench ingests the messages of bench/ingest.bench.mjs
// (10,000 identify, then track events: 50,000 in all by default) through /v1/batch into a server without plugins, then
// starts Rapport with the journeys plugin on the same database in this process and times its delivery (which starts
// from the history) from the first change to the last, with the CPU it took: this process (the delivery's Node side)
// and every process of the PostgreSQL cluster (its statements). Nothing else runs meanwhile, so the CPU is the
// delivery's; on a busy machine the CPU figures hold better than the times. Runs --rounds rounds on fresh databases.
// Usage: npx tsc -b && DATABASE_URL=postgres://postgres@127.0.0.1:55432/postgres PGDATA=/path/of/that/cluster \
//          flock -x /tmp/rapport-bench.lock node bench/journeys-delivery.bench.mjs [--events 50000] [--rounds 3] [--journey] [--profile out.cpuprofile]
// DATABASE_URL: a cluster the bench may create databases in (it makes and drops rapport_delivery_bench_<n>);
// PGDATA: that cluster's data directory, to find its processes (its postmaster.pid); without it only Node is counted.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import pg from 'pg';
import { machine } from './lib/machine.mjs';
import { treeCpuSeconds } from './lib/process-cpu.mjs';
import { startServerProcess } from './lib/server-process.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { createRapport, createLogger } = require('../packages/core/dist/internal');
const { journeysPlugin, checkJourney } = require('../packages/plugins/journeys/dist');
const { markEvaluated, saveJourney } = require('../packages/plugins/journeys/dist/plugin/journey-definition.store');

const EVENTS = arg('events', 50_000);
const USERS = arg('users', 10_000);
const ROUNDS = arg('rounds', 3);
// --journey: a journey is defined whose rules read every event the bench sends (without it, none is: a fresh install).
const JOURNEY = process.argv.includes('--journey');
if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL: a PostgreSQL cluster the bench may create databases in');
const postmaster = process.env.PGDATA ? Number(fs.readFileSync(`${process.env.PGDATA}/postmaster.pid`, 'utf8').split('\n')[0]) : null;
const dbCpu = () => (postmaster ? treeCpuSeconds(postmaster) : 0);
const nodeCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// The messages of bench/ingest.bench.mjs.
function makeEvents() {
  const out = [];
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < EVENTS; i++) {
    const u = i % USERS;
    out.push(i < USERS
      ? { type: 'identify', messageId: randomUUID(), userId: `user-${u}`, anonymousId: `anon-${u}`, timestamp: new Date(base + i * 1000).toISOString(), traits: { email: `user${u}@example.com`, plan: u % 3 ? 'free' : 'pro' } }
      : { type: 'track', messageId: randomUUID(), userId: `user-${u}`, event: i % 5 ? 'Product Viewed' : 'Order Completed', timestamp: new Date(base + i * 1000).toISOString(),
          properties: { product_id: `p-${i % 997}`, price: (i % 50) + 0.99, category: `c-${i % 13}` }, context: { ip: '203.0.113.9', library: { name: 'bench' } } });
  }
  return out;
}

const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
await admin.connect();
const rounds = [];
try {
  for (let r = 0; r < ROUNDS; r++) {
    const name = `rapport_delivery_bench_${r}`;
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    // 1. The messages, through a server without plugins (its outbox keeps every change).
    const server = await startServerProcess({ database: { url: url.href, poolSize: 20 } });
    const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
    const events = makeEvents();
    for (let i = 0; i < events.length; i += 500) {
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch: events.slice(i, i + 500) }) });
      if (res.status !== 200) throw new Error(`batch: ${res.status} ${await res.text()}`);
    }
    await server.stop();
    // 2. Rapport with the journeys plugin, its delivery not started yet; then started, and timed to the last change.
    const plugin = journeysPlugin();
    const core = await createRapport({ database: { url: url.href, poolSize: 20 }, plugins: [plugin], logger: createLogger({ level: 'warn' }) }, { background: false });
    const [{ n: changes, last }] = await core.db.query('SELECT count(*)::int AS n, max(id)::text AS last FROM rapport_outbox');
    if (JOURNEY) {
      // A journey whose rules read both track events the bench sends and a trait: the delivery then loads every event.
      // Marked evaluated for everyone, as a journey defined before these events arrived is (its backfill found
      // nobody): the delivery then evaluates each person from their stored stage (stage.increment.ts).
      const ctx = core.pluginContext(plugin);
      const saved = await ctx.db.transaction((tx) => saveJourney(tx, checkJourney({ name: 'Bench', stages: [
        { name: 'Browsing', when: [{ event: 'Product Viewed' }] },
        { name: 'Buyer', when: [{ event: 'Order Completed' }] },
        { name: 'Loyal', when: [{ event: 'Order Completed', atLeast: 2 }, { trait: 'plan', equals: 'pro' }] },
      ] })));
      await markEvaluated(ctx.db, saved.name, saved.version);
    }
    await new Promise((res) => setTimeout(res, 500));
    const n0 = nodeCpu();
    const d0 = dbCpu();
    // --profile <file>: a V8 CPU profile of this process over the delivery alone (the first round).
    const profileTo = process.argv.indexOf('--profile') > 0 && r === 0 ? process.argv[process.argv.indexOf('--profile') + 1] : null;
    const session = profileTo ? new inspector.Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const t0 = performance.now();
    await core.services.delivery.start();
    // Done when the cursor is past the last change (the plugin may not load every change: it selects its events): one
    // row read every 20 ms (the delivery status' count of the outbox beyond the cursor costs milliseconds of database
    // CPU per call, which would be counted as the delivery's).
    for (;;) {
      const [c] = await core.db.query("SELECT id >= $1::bigint AS done FROM rapport_delivery_cursor WHERE consumer = 'journeys'", [last]);
      if (c?.done) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const node = nodeCpu() - n0;
    const db = dbCpu() - d0;
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(profileTo, JSON.stringify(profile));
      session.disconnect();
    }
    // Every identify was delivered (the plugin records who was identified); the track events were passed over.
    const [{ n: identified }] = (await core.db.query('SELECT count(*)::int AS n FROM journeys_identified'));
    await core.close();
    await admin.query(`DROP DATABASE ${name}`);
    if (identified !== USERS) throw new Error(`journeys_identified holds ${identified} profiles; expected ${USERS}`);
    const per = (s) => Math.round((s * 1e6) / changes);
    if (changes < EVENTS) throw new Error(`the outbox holds ${changes} changes; expected at least ${EVENTS}`);
    rounds.push({ seconds: +seconds.toFixed(2), changesPerSecond: Math.round(changes / seconds), nodeMicrosPerChange: per(node), databaseMicrosPerChange: postmaster ? per(db) : null, totalMicrosPerChange: per(node + db) });
    console.error(JSON.stringify(rounds.at(-1)));
  }
} finally {
  await admin.end();
}
const median = (k) => rounds.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
const result = {
  bench: 'journeys-delivery', when: new Date().toISOString(), machine: machine(), loadAverage: os.loadavg().map((l) => +l.toFixed(2)), events: EVENTS, users: USERS, journey: JOURNEY,
  rounds, median: { seconds: median('seconds'), nodeMicrosPerChange: median('nodeMicrosPerChange'), databaseMicrosPerChange: median('databaseMicrosPerChange'), totalMicrosPerChange: median('totalMicrosPerChange') },
};
console.log(JSON.stringify(result, null, 2));
fs.mkdirSync('bench/results', { recursive: true });
fs.writeFileSync(`bench/results/journeys-delivery${JOURNEY ? '-journey' : ''}.json`, JSON.stringify(result, null, 2) + '\n');
