// Memory under load: the server's RSS (and V8 heap) while it serves reads, after N events
// ingested, and over a soak of mixed reads and writes; fails when memory grows during the soak.
//
//   1. a server in its own process, seeded with --profiles people (an identify and 20 events each);
//      its RSS at idle;
//   2. with --events N: N events through /v1/batch (batches of 500, 4 in flight), RSS during, right
//      after and after --pause seconds idle;
//   3. --read-seconds of reads alone (16 readers): profile(id) { traits identities events(first: 10) }
//      and profiles(first: 20, filter: ...);
//   4. --minutes of the same reads plus /v1/batch writes (2 writers; tracks for existing people,
//      identifies and tracks for new ones, fresh messageIds), each paced at a steady rate;
//   5. --pause seconds idle (V8 gives pages back after ~30-60 s idle), RSS again.
// RSS is read from /proc every --sample seconds; the heap through a probe preloaded into the server
// child (NODE_OPTIONS --import; nothing is added to the server): on SIGUSR2 it writes
// process.memoryUsage(), after a full GC when asked. Exit code 1 when the last minute's median RSS
// is more than 10% above the second minute's (the first minute is warm-up), or requests failed.
// Loopback only. Usage (a shared machine: under the bench lock):
//   flock -x /tmp/rapport-bench.lock node bench/soak.bench.mjs [--minutes 10] [--events 0]
//     [--profiles 2000] [--read-seconds 30] [--readers 16] [--writers 2] [--read-rate 300]
//     [--write-rate 10] [--write-batch 50] [--sample 10] [--pause 60]
// --read-rate is requests/s over all readers, --write-rate batches/s over all writers (0: as fast
// as the readers or writers go).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive, rssMB, startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { seed } from './read.bench.mjs';
import { numberArg as arg } from './lib/args.mjs';

const MINUTES = arg('minutes', 10);
const EVENTS = arg('events', 0);
const PROFILES = arg('profiles', 2000);
const READ_SECONDS = arg('read-seconds', 30);
const READERS = arg('readers', 16);
const WRITERS = arg('writers', 2);
const READ_RATE = arg('read-rate', 300);
const WRITE_RATE = arg('write-rate', 10);
const WRITE_BATCH = arg('write-batch', 50);
const SAMPLE_MS = arg('sample', 10) * 1000;
const PAUSE_MS = arg('pause', 60) * 1000;
const INGEST_BATCH = 500;
const INGEST_CONCURRENCY = 4;
/** The last minute's median RSS may be at most this much above the second minute's. */
const GROWTH_LIMIT = 0.1;

const PROFILE_QUERY = 'query($id: ID!) { profile(id: $id) { id traits identities { type value } events(first: 10) { nodes { type name timestamp properties } } } }';
const LIST_QUERY = 'query($filter: ProfileFilter) { profiles(first: 20, filter: $filter) { nodes { id traits identities { type value } } pageInfo { hasNextPage endCursor } } }';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => x != null).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
};
const pct = (sorted, p) => (sorted.length ? +sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(1) : null);
const mb = (bytes) => Math.round(bytes / 2 ** 20);

// ---- the memory probe, preloaded into the server child ------------------------------------------
const PROBE_FILE = path.join(os.tmpdir(), `soak-heap-${process.pid}.json`);
const probe = `import fs from 'node:fs';
const f = process.env.SOAK_HEAP_FILE;
fs.writeFileSync(f, 'null');
process.on('SIGUSR2', () => {
  if (fs.existsSync(f + '.gc')) { globalThis.gc?.(); globalThis.gc?.(); }
  fs.writeFileSync(f + '.tmp', JSON.stringify(process.memoryUsage()));
  fs.renameSync(f + '.tmp', f);
});`;

/** The server's memory (MB) through the probe: heap as it is, or after a full GC; null without it. One at a time. */
let probing = Promise.resolve();
function heap(pid, options) {
  const p = probing.then(() => heapNow(pid, options));
  probing = p.catch(() => null);
  return p;
}
async function heapNow(pid, { gc = false } = {}) {
  if (!fs.existsSync(PROBE_FILE) || !alive(pid)) return null; // without the probe, SIGUSR2 would end the server
  fs.writeFileSync(PROBE_FILE, 'null');
  if (gc) fs.writeFileSync(`${PROBE_FILE}.gc`, '');
  else fs.rmSync(`${PROBE_FILE}.gc`, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await sleep(i < 10 ? 10 : 100);
    let m = null;
    try {
      m = JSON.parse(fs.readFileSync(PROBE_FILE, 'utf8'));
    } catch {} // being written
    if (m) return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) };
  }
  return null;
}

// ---- load ---------------------------------------------------------------------------------------
/** A pacer shared by a phase's workers: one slot every 1/rate s; behind by over 1 s, it does not burst to catch up. */
function pacer(rate) {
  let next = performance.now();
  return async () => {
    if (!rate) return;
    const now = performance.now();
    if (next < now - 1000) next = now;
    const at = next;
    next += 1000 / rate;
    if (at > now) await sleep(at - now);
  };
}

function newStats() {
  return { requests: 0, ok: 0, non2xx: 0, byStatus: {}, networkErrors: 0, graphqlErrors: 0, latencies: [], firstErrors: [] };
}
function summary(s, seconds) {
  const lat = s.latencies.sort((a, b) => a - b);
  return {
    requests: s.requests, perSec: +(s.requests / seconds).toFixed(1), ok: s.ok, non2xx: s.non2xx, byStatus: s.byStatus,
    networkErrors: s.networkErrors, graphqlErrors: s.graphqlErrors,
    latencyMs: { p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), max: lat.length ? +lat.at(-1).toFixed(1) : null },
    firstErrors: s.firstErrors,
  };
}

async function timed(stats, send, check) {
  const t = performance.now();
  stats.requests++;
  try {
    const res = await send();
    const text = await res.text();
    stats.latencies.push(performance.now() - t);
    stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
    if (res.status < 200 || res.status > 299) {
      stats.non2xx++;
      if (stats.firstErrors.length < 5) stats.firstErrors.push(`${res.status} ${text.slice(0, 300)}`);
      return;
    }
    const problem = check?.(JSON.parse(text));
    if (problem) {
      stats.graphqlErrors++;
      if (stats.firstErrors.length < 5) stats.firstErrors.push(problem.slice(0, 300));
      return;
    }
    stats.ok++;
  } catch (err) {
    stats.networkErrors++;
    if (stats.firstErrors.length < 5) stats.firstErrors.push(String(err?.cause ?? err).slice(0, 300));
  }
}

const pick = (n) => Math.floor(Math.random() * n);

function readOnce(server, ids, stats) {
  const r = Math.random();
  let body;
  if (r < 0.7) body = { query: PROFILE_QUERY, variables: { id: ids[pick(ids.length)] } };
  else {
    const u = pick(PROFILES);
    const filter = r < 0.8 ? { traits: { plan: u % 2 ? 'pro' : 'free' } } : r < 0.9 ? { identity: { type: 'email', value: `reader${u}@example.com` } } : { seenSince: new Date(Date.now() - 60_000).toISOString() };
    body = { query: LIST_QUERY, variables: { filter } };
  }
  return timed(
    stats,
    () => fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` }, body: JSON.stringify(body) }),
    (json) => (json.errors ? JSON.stringify(json.errors) : body.query === PROFILE_QUERY && !json.data?.profile ? 'profile not found' : null),
  );
}

let newPeople = 0;
/** A batch of fresh messages: tracks for seeded people, identifies and tracks for new ones. */
function writeBatch() {
  const batch = [];
  for (let i = 0; i < WRITE_BATCH; i++) {
    const r = Math.random();
    const timestamp = new Date().toISOString();
    if (r < 0.1) {
      const n = newPeople++;
      batch.push({ type: 'identify', messageId: randomUUID(), userId: `soak-new-${n}`, anonymousId: `soak-anon-${n}`, timestamp, traits: { email: `soak${n}@example.com`, plan: n % 3 ? 'free' : 'pro', name: `Soak ${n}` } });
    } else if (r < 0.3 && newPeople > 0) {
      batch.push({ type: 'track', messageId: randomUUID(), userId: `soak-new-${pick(newPeople)}`, event: 'Product Viewed', timestamp, properties: { product_id: `p-${pick(500)}`, price: 19.99 } });
    } else {
      batch.push({ type: 'track', messageId: randomUUID(), userId: `reader-${pick(PROFILES)}`, event: r < 0.5 ? 'Order Completed' : 'Product Viewed', timestamp,
        properties: { product_id: `p-${pick(500)}`, price: 9.99, category: `c-${pick(13)}` }, context: { ip: '203.0.113.9', library: { name: 'soak' } } });
    }
  }
  return batch;
}

function postBatch(server, batch, stats) {
  const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
  return timed(
    stats,
    () => fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch, sentAt: new Date().toISOString() }) }),
    (json) => (Array.isArray(json.results) && json.results.length === batch.length ? null : `unexpected answer: ${JSON.stringify(json).slice(0, 200)}`),
  );
}

/** Runs workers until `until` (ms, performance.now()); each waits for its pacer's slot, then sends. */
async function run(n, pace, until, once) {
  await Promise.all(Array.from({ length: n }, async () => {
    while (performance.now() < until) {
      await pace();
      if (performance.now() >= until) break;
      await once();
    }
  }));
}

// ---- sampling -----------------------------------------------------------------------------------
const samples = [];
let phase = 'start';
let t0 = performance.now();
function sampler(pid) {
  let busy = false;
  const take = async () => {
    if (busy) return;
    busy = true;
    try {
      const rss = rssMB(pid);
      const h = await heap(pid).catch(() => null);
      samples.push({ phase, t: +((performance.now() - t0) / 1000).toFixed(1), rss, heapUsed: h?.heapUsed ?? null, heapTotal: h?.heapTotal ?? null, external: h?.external ?? null });
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(take, SAMPLE_MS);
  return { stop: () => clearInterval(timer), take };
}
const inPhase = (p, from = -Infinity, to = Infinity) => samples.filter((s) => s.phase === p && s.t > from && s.t <= to);
const stat = (ss, key = 'rss') => ({ median: median(ss.map((s) => s[key])), max: ss.length ? Math.max(...ss.map((s) => s[key] ?? 0)) : null, samples: ss.length });
function startPhase(name) {
  phase = name;
  t0 = performance.now();
  console.error(`[soak] ${new Date().toISOString()} ${name}`);
}

// ---- run ----------------------------------------------------------------------------------------
process.env.SOAK_HEAP_FILE = PROBE_FILE;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=data:text/javascript;base64,${Buffer.from(probe).toString('base64')}`.trim();
const server = await startServerProcess();
delete process.env.NODE_OPTIONS;
let exitCode = 1;
try {
  const { hostname } = new URL(server.url);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(hostname)) throw new Error(`refusing a non-loopback server: ${server.url}`);
  const pid = server.pid;
  const result = { bench: 'soak', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded', loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)) };

  // 1. seed, warm up a little, idle
  const tSeed = performance.now();
  const ids = await seed(server, PROFILES);
  result.seed = { profiles: ids.length, events: PROFILES * 21, seconds: +((performance.now() - tSeed) / 1000).toFixed(1) };
  for (let i = 0; i < 50; i++) await readOnce(server, ids, newStats());
  await sleep(5000);
  result.idleAfterSeed = { rssMB: rssMB(pid), heap: await heap(pid), heapAfterFullGc: await heap(pid, { gc: true }) };
  console.error(`[soak] idle after seeding: ${JSON.stringify(result.idleAfterSeed)}`);

  const samp = sampler(pid);

  // 2. optional bulk ingestion
  if (EVENTS > 0) {
    startPhase('ingest');
    const users = Math.max(1, Math.round(EVENTS / 10));
    const base = Date.parse('2026-01-01T00:00:00Z');
    const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
    let next = 0;
    let failed = null;
    const t = performance.now();
    await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, async () => {
      while (next < EVENTS && !failed) {
        const start = next;
        next += INGEST_BATCH;
        const batch = [];
        for (let i = start; i < Math.min(start + INGEST_BATCH, EVENTS); i++) {
          const u = i % users;
          batch.push(i < users
            ? { type: 'identify', messageId: randomUUID(), userId: `bulk-${u}`, anonymousId: `bulk-anon-${u}`, timestamp: new Date(base + i * 100).toISOString(), traits: { email: `bulk${u}@example.com`, plan: u % 3 ? 'free' : 'pro' } }
            : { type: 'track', messageId: randomUUID(), userId: `bulk-${u}`, event: i % 5 ? 'Product Viewed' : 'Order Completed', timestamp: new Date(base + i * 100).toISOString(),
                properties: { product_id: `p-${i % 997}`, price: (i % 50) + 0.99, category: `c-${i % 13}` }, context: { ip: '203.0.113.9', library: { name: 'bench' } } });
        }
        const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch, sentAt: new Date().toISOString() }) });
        const text = await res.text();
        if (res.status !== 200) failed = `batch failed: ${res.status} ${text.slice(0, 300)}`;
        const end = Math.min(start + INGEST_BATCH, EVENTS);
        if (Math.floor(end / 100_000) !== Math.floor(start / 100_000)) console.error(`[soak] ingested ${end} events, RSS ${rssMB(pid)} MB`);
      }
    }));
    if (failed) throw new Error(failed);
    const seconds = (performance.now() - t) / 1000;
    await samp.take();
    const during = stat(inPhase('ingest'));
    const rightAfter = rssMB(pid);
    startPhase('ingest-idle');
    await sleep(PAUSE_MS);
    result.ingest = {
      events: EVENTS, users, batch: INGEST_BATCH, concurrency: INGEST_CONCURRENCY, seconds: +seconds.toFixed(1), eventsPerSec: Math.round(EVENTS / seconds),
      rssMB: { median: during.median, max: during.max, rightAfter, afterPause: rssMB(pid), pauseSeconds: PAUSE_MS / 1000 },
      heapAfterFullGc: await heap(pid, { gc: true }),
    };
    console.error(`[soak] ingest: ${JSON.stringify(result.ingest)}`);
  }

  // 3. reads alone
  if (READ_SECONDS > 0) {
    startPhase('read');
    const reads = newStats();
    await run(READERS, pacer(READ_RATE), performance.now() + READ_SECONDS * 1000, () => readOnce(server, ids, reads));
    await samp.take();
    result.readOnly = { seconds: READ_SECONDS, readers: READERS, targetPerSec: READ_RATE, rssMB: stat(inPhase('read')), heapUsedMB: stat(inPhase('read'), 'heapUsed'), reads: summary(reads, READ_SECONDS) };
    console.error(`[soak] read-only: ${JSON.stringify({ ...result.readOnly, reads: { ...result.readOnly.reads, firstErrors: undefined } })}`);
  }

  // 4. the soak: reads and writes
  startPhase('soak');
  const reads = newStats();
  const writes = newStats();
  const until = performance.now() + MINUTES * 60_000;
  const readPace = pacer(READ_RATE);
  const writePace = pacer(WRITE_RATE);
  await Promise.all([
    run(READERS, readPace, until, () => readOnce(server, ids, reads)),
    run(WRITERS, writePace, until, () => postBatch(server, writeBatch(), writes)),
  ]);
  const soakSeconds = (performance.now() - t0) / 1000;
  await samp.take();
  samp.stop();
  const rssRightAfter = rssMB(pid);
  const heapRightAfter = await heap(pid, { gc: true });
  const soak = inPhase('soak');
  const minute = (m) => stat(inPhase('soak', (m - 1) * 60, m * 60));
  const first = minute(1);
  const second = MINUTES >= 2 ? minute(2) : null;
  const last = stat(inPhase('soak', soakSeconds - 60, Infinity));

  // 5. idle
  startPhase('after');
  await sleep(PAUSE_MS);
  const rssAfterPause = rssMB(pid);
  const heapAfterPause = await heap(pid, { gc: true });
  const crashed = !alive(pid);

  const growthVsSecond = second?.median && last.median ? +((last.median / second.median - 1) * 100).toFixed(1) : null;
  const growthVsFirst = first.median && last.median ? +((last.median / first.median - 1) * 100).toFixed(1) : null;
  result.soak = {
    minutes: MINUTES, seconds: +soakSeconds.toFixed(1), readers: READERS, writers: WRITERS, readTargetPerSec: READ_RATE, writeTargetBatchesPerSec: WRITE_RATE, writeBatch: WRITE_BATCH,
    newPeople, eventsWritten: writes.ok * WRITE_BATCH,
    rssMB: {
      median: stat(soak).median, max: stat(soak).max,
      firstMinuteMedian: first.median, secondMinuteMedian: second?.median ?? null, lastMinuteMedian: last.median,
      growthLastVsSecondPct: growthVsSecond, growthLastVsFirstPct: growthVsFirst,
      rightAfter: rssRightAfter, afterPause: rssAfterPause, pauseSeconds: PAUSE_MS / 1000,
    },
    heapUsedMB: { median: stat(soak, 'heapUsed').median, max: stat(soak, 'heapUsed').max, firstMinuteMedian: stat(inPhase('soak', 0, 60), 'heapUsed').median, lastMinuteMedian: stat(inPhase('soak', soakSeconds - 60, Infinity), 'heapUsed').median },
    heapAfterFullGc: { rightAfter: heapRightAfter, afterPause: heapAfterPause },
    reads: summary(reads, soakSeconds),
    writes: summary(writes, soakSeconds),
  };
  result.samples = samples;
  result.loadavgAtEnd = os.loadavg().map((x) => +x.toFixed(2));
  const failures = [];
  if (crashed) failures.push('the server died');
  if (growthVsSecond !== null && growthVsSecond > GROWTH_LIMIT * 100) failures.push(`RSS grew ${growthVsSecond}% from the second minute to the last (limit ${GROWTH_LIMIT * 100}%)`);
  for (const [name, s] of [['reads', reads], ['writes', writes]]) {
    if (s.non2xx || s.networkErrors || s.graphqlErrors) failures.push(`${name}: ${s.non2xx} non-2xx, ${s.networkErrors} network errors, ${s.graphqlErrors} GraphQL errors`);
  }
  if (second === null) console.error('[soak] under 2 minutes: no growth check (the first minute is warm-up)');
  result.ok = failures.length === 0;
  result.failures = failures;
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  fs.writeFileSync(new URL('./results/soak.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  const { samples: _s, ...brief } = result;
  console.log(JSON.stringify(brief, null, 2));
  for (const f of failures) console.error(`[soak] FAIL: ${f}`);
  exitCode = result.ok ? 0 : 1;
} finally {
  await server.stop();
  fs.rmSync(PROBE_FILE, { force: true });
  fs.rmSync(`${PROBE_FILE}.gc`, { force: true });
  fs.rmSync(`${PROBE_FILE}.tmp`, { force: true });
}
process.exit(exitCode);
