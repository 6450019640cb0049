// Ingestion throughput: events per second through POST /v1/batch into PostgreSQL, side by side
// with the same rows written by plain multi-row INSERTs over `pg` into a table of the same shape
// (the floor any platform must pay). Usage:
//   npm run build && node bench/ingest.bench.mjs [--events 50000] [--users 10000] [--batch 500] [--concurrency 4] [--recommendations] [--plugins journeys,recommendations]
// --journey (with --plugins journeys) defines a journey whose rules read every event the bench sends, and starts once
// it is evaluated for everyone (its backfill done), as a journey defined before the traffic.
// --recommendations loads the recommendations plugin (as `npm start` does); --plugins loads the named plugins
// (recommendations, journeys). With a plugin the bench also reports its delivery lag when the last batch was answered
// and how long its delivery took to catch up after that (delivery runs concurrently with ingestion, off the request path).
// --out <file> writes the result there instead. --step-back-share S sets the server's delivery.stepBackShare (1: never).
// DATABASE_URL selects an external PostgreSQL; default: a fresh embedded one.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { processCpuSeconds, treeCpuSeconds } from './lib/process-cpu.mjs';
import { numberArg as arg } from './lib/args.mjs';
import { chunks, makeEvents, pool } from './lib/ingest-events.mjs';

const EVENTS = arg('events', 50_000);
const USERS = arg('users', 10_000);
const BATCH = arg('batch', 500);
const CONCURRENCY = arg('concurrency', 4);
const pluginsArg = process.argv.indexOf('--plugins');
const JOURNEY = process.argv.includes('--journey');
const PLUGINS = [...new Set([...(pluginsArg > 0 ? process.argv[pluginsArg + 1].split(',').filter(Boolean) : []), ...(process.argv.includes('--recommendations') ? ['recommendations'] : [])])];
for (const p of PLUGINS) if (!['recommendations', 'journeys'].includes(p)) throw new Error(`--plugins: unknown plugin ${p} (recommendations, journeys)`);
if (JOURNEY && !PLUGINS.includes('journeys')) throw new Error('--journey needs --plugins journeys');
const WITH_RECS = PLUGINS.length > 0;
// --out: where to write the result (default bench/results/ingest.json, or ingest-<plugins>.json with plugins).
const OUT = process.argv.indexOf('--out') > 0 ? process.argv[process.argv.indexOf('--out') + 1] : null;

const events = makeEvents(EVENTS, USERS);
// --step-back-share S: delivery.stepBackShare of the server (1: deliveries never step back for requests).
const STEP_BACK = process.argv.indexOf('--step-back-share') > 0 ? Number(process.argv[process.argv.indexOf('--step-back-share') + 1]) : null;
const server = await startServerProcess({ ...Object.fromEntries(PLUGINS.map((p) => [p, {}])), ...(STEP_BACK === null ? {} : { delivery: { stepBackShare: STEP_BACK } }) });
try {
  // --journey (with the journeys plugin): a journey whose rules read both track events this bench sends and a trait,
  // so its delivery loads every event (without it, the plugin's delivery loads identify events only).
  if (JOURNEY) {
    const input = { name: 'Bench', stages: [
      { name: 'Browsing', when: [{ event: 'Product Viewed' }] },
      { name: 'Buyer', when: [{ event: 'Order Completed' }] },
      { name: 'Loyal', when: [{ event: 'Order Completed', atLeast: 2 }, { trait: 'plan', equals: 'pro' }] },
    ] };
    const r = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` },
      body: JSON.stringify({ query: 'mutation($i: JourneyInput!) { defineJourney(input: $i) { name } }', variables: { i: input } }) });
    const body = await r.json();
    if (body.errors) throw new Error(`defineJourney: ${JSON.stringify(body.errors)}`);
    // The burst starts once the journey is evaluated for everyone (its backfill, a job, is done), as a journey defined
    // before the traffic comes: a backfill started meanwhile would chase the burst, evaluating the people it brings,
    // and its one-off cost would land in a random share of the runs (as the job's polling happened to fall).
    for (const end = Date.now() + 60_000; ; ) {
      const q = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` },
        body: JSON.stringify({ query: '{ journeyDefinitions { name ready } }' }) });
      const got = await q.json();
      if (got.data?.journeyDefinitions?.every((j) => j.ready)) break;
      if (Date.now() > end) throw new Error(`the journey was not evaluated within a minute: ${JSON.stringify(got)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  // 1. Through Rapport: validation, dedupe, stitching, traits, events, one transaction per batch.
  const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
  const cpu0 = treeCpuSeconds(server.pid);
  const nodeCpu0 = processCpuSeconds(server.pid);
  const t0 = performance.now();
  await pool(chunks(events, BATCH), CONCURRENCY, async (batch) => {
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch, sentAt: new Date().toISOString() }) });
    if (res.status !== 200) throw new Error(`batch failed: ${res.status} ${await res.text()}`);
  });
  const rapportSec = (performance.now() - t0) / 1000;
  // With a plugin: how long its delivery (off the request path) took to catch up.
  let catchUpSec = null;
  let lagAtEnd = null;
  if (WITH_RECS) {
    for (;;) {
      const r = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` }, body: JSON.stringify({ query: '{ deliveryStatus { lag } }' }) });
      const body = await r.json();
      lagAtEnd ??= Math.max(0, ...body.data.deliveryStatus.map((d) => d.lag));
      if (body.data.deliveryStatus.every((d) => d.lag === 0)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    catchUpSec = +((performance.now() - t0) / 1000 - rapportSec).toFixed(2);
  }
  // The CPU the server and its embedded PostgreSQL spent on the messages (with plugins: until their delivery caught
  // up): what a plugin costs per event, whatever else the machine runs. Not counted on an external database.
  const cpuSec = treeCpuSeconds(server.pid) - cpu0;
  // The server's Node process alone (its one JavaScript thread, the garbage collector's helpers, libuv's threads).
  const nodeCpuSec = processCpuSeconds(server.pid) - nodeCpu0;

  // 2. The floor: the same rows (each with the profile id Rapport gave it), multi-row INSERTs over pg into a table of
  //    the same shape and indexes, same batch size and concurrency. The floor before 2026-12-07 put every row on one
  //    profile id, so each index on (profile_id, ...) took its inserts at one end; it is still measured, as
  //    `plainInsertOneProfile`, for comparison with earlier results.
  const db = new pg.Pool({ connectionString: server.databaseUrl, max: CONCURRENCY });
  const profileOf = new Map((await db.query('SELECT message_id, profile_id FROM rapport_event')).rows.map((r) => [r.message_id, r.profile_id]));
  async function floor(profileFor) {
    await db.query('DROP TABLE IF EXISTS bench_event_floor');
    await db.query('CREATE TABLE bench_event_floor (LIKE rapport_event INCLUDING DEFAULTS INCLUDING INDEXES)');
    const t1 = performance.now();
    await pool(chunks(events, BATCH), CONCURRENCY, async (batch) => {
      const values = [];
      const params = [];
      for (const e of batch) {
        const p = params.length;
        const profileId = profileFor(e);
        params.push(e.messageId, profileId, profileId, e.type, e.event ?? null, e.userId, e.anonymousId ?? null, JSON.stringify(e.properties ?? {}),
          e.traits ? JSON.stringify(e.traits) : null, JSON.stringify(e.context ?? {}), e.timestamp, new Date());
        values.push(`(${Array.from({ length: 12 }, (_, k) => `$${p + k + 1}`).join(',')})`);
      }
      await db.query(
        `INSERT INTO bench_event_floor (message_id, profile_id, origin_profile_id, type, name, user_id, anonymous_id, properties, traits, context, timestamp, received_at) VALUES ${values.join(',')}`,
        params,
      );
    });
    const sec = (performance.now() - t1) / 1000;
    await db.query('DROP TABLE bench_event_floor');
    return sec;
  }
  const oneProfile = randomUUID();
  const oneProfileSec = await floor(() => oneProfile);
  const floorCpu0 = treeCpuSeconds(server.pid) - processCpuSeconds(server.pid);
  const floorSec = await floor((e) => profileOf.get(e.messageId));
  // The embedded PostgreSQL's CPU for the floor (the server's Node process is idle meanwhile; the floor's client is this process).
  const floorDbCpuSec = treeCpuSeconds(server.pid) - processCpuSeconds(server.pid) - floorCpu0;
  const stored = Number((await db.query('SELECT count(*) FROM rapport_event')).rows[0].count);
  const profiles = Number((await db.query('SELECT count(*) FROM rapport_profile WHERE merged_into IS NULL')).rows[0].count);
  await db.end();

  const result = {
    bench: 'ingest', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded',
    events: EVENTS, users: USERS, batch: BATCH, concurrency: CONCURRENCY, stored, profiles, plugins: PLUGINS, journey: JOURNEY,
    pluginLagAtEnd: lagAtEnd, pluginCatchUpSeconds: catchUpSec, loadAverage: os.loadavg().map((l) => +l.toFixed(2)),
    rapport: { seconds: +rapportSec.toFixed(2), eventsPerSec: Math.round(EVENTS / rapportSec) },
    serverCpu: { seconds: +cpuSec.toFixed(2), microsecondsPerEvent: Math.round((cpuSec * 1e6) / EVENTS), nodeMicrosecondsPerEvent: Math.round((nodeCpuSec * 1e6) / EVENTS), databaseMicrosecondsPerEvent: process.env.DATABASE_URL ? null : Math.round(((cpuSec - nodeCpuSec) * 1e6) / EVENTS), database: process.env.DATABASE_URL ? 'not counted (external)' : 'counted (embedded)' },
    plainInsert: { seconds: +floorSec.toFixed(2), eventsPerSec: Math.round(EVENTS / floorSec), databaseMicrosecondsPerEvent: process.env.DATABASE_URL ? null : Math.round((floorDbCpuSec * 1e6) / EVENTS) },
    ratio: +(rapportSec / floorSec).toFixed(2),
    plainInsertOneProfile: { seconds: +oneProfileSec.toFixed(2), eventsPerSec: Math.round(EVENTS / oneProfileSec), ratio: +(rapportSec / oneProfileSec).toFixed(2) },
  };
  if (stored !== EVENTS || profiles !== USERS) throw new Error(`stored ${stored} events in ${profiles} profiles; expected ${EVENTS} in ${USERS}`);
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  fs.writeFileSync(OUT ?? new URL(WITH_RECS ? `./results/ingest-${PLUGINS.join('-')}.json` : './results/ingest.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  await server.stop();
}
