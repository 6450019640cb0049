// Fuzzes the tracking API: 10,000 hostile or odd /v1/* bodies (every endpoint, long and short
// forms) against a server on loopback, then checks what must hold (issue 11):
//   no 5xx, no crash, no request over 2 s, RSS back near its idle level, and every message
//   answered 2xx (or accepted by index in a 207) stored exactly once, every rejected one not at all.
// Bodies: random JSON shapes, wrong types, NUL, lone surrogates, deep nesting (up to 200,000 levels),
// huge numbers, extreme dates, gzip/deflate (good, corrupt, bombs), truncated JSON, invalid UTF-8,
// wrong content types and encodings, oversize bodies, batches mixing good and bad messages.
// Usage (after `npm run build`):
//   node bench/faults/fuzz-ingest.mjs [--requests 10000] [--warmup 1000] [--concurrency 8] [--seed 1]
// DATABASE_URL selects an external PostgreSQL; default: a fresh embedded one. Prints one JSON line
// (same seed, same bodies); exits 1 when a check fails: any 5xx or network error, the server process
// gone or /health not 200, a request over 2 s, an accepted message missing or stored twice, a
// rejected one stored, or RSS after --pause seconds idle (default 60) above 1.1 x its idle level
// before any fuzzing (rssColdMB, after 100 valid messages). V8 keeps the pages it grew into for
// a while and gives them back once the process is idle. RSS after a warm-up of --warmup fuzzed
// requests (checked like the others, reported apart) is reported as rssIdleMB.
import { gzipSync, deflateSync } from 'node:zlib';
import pg from 'pg';
import { alive, rssMB, startServerProcess } from '../lib/server-process.mjs';
import { machine } from '../lib/machine.mjs';
import { numberArg as arg } from '../lib/args.mjs';

const REQUESTS = arg('requests', 10_000);
const WARMUP = arg('warmup', 1000);
const CONCURRENCY = arg('concurrency', 8);
const SEED = arg('seed', 1);
const DEADLINE_MS = arg('deadline-s', 900) * 1000; // the whole run is bounded
/** RSS after the pause may exceed RSS before any fuzzing by at most 10%. */
const RSS_TOLERANCE = 1.1;
const PAUSE_MS = arg('pause', 60) * 1000; // idle time before the last RSS reading (V8 gives pages back after ~30-60 s idle)
const REQUEST_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------- deterministic randomness
let state = SEED >>> 0 || 1;
function rand() {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (list) => list[int(list.length)];
const chance = (p) => rand() < p;

// ---------------------------------------------------------------- messages
const TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'];
const ENDPOINTS = ['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch', 'i', 't', 'p', 's', 'g', 'a', 'b'];
const SHORT = { i: 'identify', t: 'track', p: 'page', s: 'screen', g: 'group', a: 'alias', b: 'batch' };
let serial = 0;
const newId = () => `fz-${SEED}-${serial++}`;
const isPlainId = (v) => typeof v === 'string' && /^fz-\d+-\d+$/.test(v);

function validMessage(type) {
  const user = `fz-user-${int(300)}`;
  const m = { type, messageId: newId(), timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + int(1e9)).toISOString() };
  if (chance(0.7)) m.userId = user;
  else m.anonymousId = `fz-anon-${int(300)}`;
  if (chance(0.3)) m.context = { ip: '203.0.113.9', library: { name: 'fuzz', version: '1' }, page: { path: `/p/${int(50)}` } };
  switch (type) {
    case 'identify':
      m.traits = { name: `Name ${int(1000)}`, plan: pick(['free', 'pro']), ...(chance(0.3) ? { email: `${user}@example.com` } : {}) };
      break;
    case 'track':
      m.event = pick(['Viewed', 'Clicked', 'Order Completed', 'Signed Up']);
      m.properties = { price: int(10000) / 100, sku: `sku-${int(100)}`, tags: ['a', 'b'] };
      break;
    case 'page':
    case 'screen':
      m.name = pick(['Home', 'Pricing', 'Docs', undefined]);
      m.properties = { path: `/x/${int(100)}` };
      break;
    case 'group':
      m.groupId = `fz-group-${int(20)}`;
      m.traits = { employees: int(500) };
      break;
    case 'alias':
      m.userId = user;
      m.previousId = `fz-anon-${int(300)}`;
      break;
  }
  return m;
}

/** A placeholder whose JSON text is replaced by raw JSON text (numbers JSON.stringify cannot write, deep nesting). */
const raws = new Map();
function raw(text) {
  const key = `__RAW_${raws.size}_${serial}__`;
  raws.set(key, text);
  return key;
}
function toText(value) {
  let text = JSON.stringify(value);
  if (text === undefined) return 'null';
  for (const [key, r] of raws) if (text.includes(key)) text = text.split(`"${key}"`).join(r);
  return text;
}

const STRINGS = ['', ' ', 'x', 'a'.repeat(513), 'é', '😀', '\ufffd', '\ud83d', '\ude00', 'a\u0000b', '\u0000', '%s%n', '<script>', 'undefined', 'null', '0', 'NaN', '中'.repeat(1024)];
function randomJson(depth = 0) {
  const k = int(depth > 4 ? 4 : 7);
  if (k === 0) return pick([null, true, false]);
  if (k === 1) return pick([0, -1, 1.5, 2 ** 53 + 1, -0, 1e308, 5e-324]);
  if (k === 2 || k === 3) return pick(STRINGS);
  if (k === 4) return Array.from({ length: int(4) }, () => randomJson(depth + 1));
  const o = {};
  for (let i = int(5); i > 0; i--) o[pick(['a', 'userId', 'type', 'event', 'batch', 'properties', '', 'k\u0000', 'k\ud800', 'constructor', 'toString'])] = randomJson(depth + 1);
  return o;
}

/** Every string of a message, with a setter, to plant a bad character (keys too). */
function strings(value, out = [], holder = null, key = null, depth = 0) {
  if (depth > 8) return out;
  if (typeof value === 'string' && holder) out.push({ get: () => holder[key], set: (v) => (holder[key] = v) });
  else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      strings(value[k], out, value, k, depth + 1);
      if (!Array.isArray(value)) {
        out.push({
          get: () => k,
          set: (nk) => {
            value[nk] = value[k];
            if (nk !== k) delete value[k];
          },
        });
      }
    }
  }
  return out;
}
function plant(message, bad) {
  const all = strings(message);
  if (!all.length) return;
  const s = pick(all);
  const v = s.get();
  const at = int(v.length + 1);
  s.set(v.slice(0, at) + bad + v.slice(at));
}

const DATES = ['-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00.000Z', 8.64e15, -8.64e15, '0000-01-01T00:00:00Z', '+010000-01-01T00:00:00Z',
  'yesterday', '2024-02-30T00:00:00Z', '', {}, [], true, 1e400, '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '0001-01-01T00:00:00Z'];
const WRONG = [null, true, 0, -1, 1.5, 'str', '', [], [1, 2], {}, { a: 1 }, 'x'.repeat(600), 2 ** 64];
const FIELDS = ['type', 'userId', 'anonymousId', 'messageId', 'event', 'name', 'properties', 'traits', 'context', 'integrations', 'timestamp', 'sentAt',
  'groupId', 'previousId', 'category', 'context.traits', 'context.traits.email', 'context.traits.phone', 'context.externalIds', 'context.consent',
  'context.consent.categoryPreferences', 'traits.email', 'traits.phone'];
function setPath(o, path, v) {
  const parts = path.split('.');
  let cur = o;
  for (const p of parts.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p];
  }
  cur[parts.at(-1)] = v;
}
const nested = (depth, arrays) => (arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

/** One message, maybe mutated; returns it (an object; raw parts via placeholders). */
function message(type) {
  const m = validMessage(type);
  const k = int(14);
  switch (k) {
    case 0: plant(m, pick(['\u0000', 'a\u0000'])); break;
    case 1: plant(m, pick(['\ud800', '\udc01', '\udfff', '\ud83d'])); break;
    case 2: {
      const d = pick([10, 62, 63, 64, 65, 100, 1000, 5000, 20_000, 60_000]);
      (m.properties ??= {}).deep = raw(nested(d, chance(0.5)));
      break;
    }
    case 3: (m.properties ??= {}).n = raw(pick(['1e400', '-1e999', '123456789012345678901234567890', '1.7976931348623157e308', '-0', '5e-324', '1E+308', '0.0000000000000000000001']));
      break;
    case 4: m[pick(['timestamp', 'originalTimestamp', 'sentAt'])] = pick(DATES); break;
    case 5: setPath(m, pick(FIELDS), pick(WRONG)); break;
    case 6: return randomJson();
    case 7: (m.properties ??= {}).list = Array.from({ length: pick([100, 2000]) }, (_, i) => i); break;
    case 8: m.context = { ...(m.context ?? {}), externalIds: pick([[{ id: 'e1', type: 'crm' }], [{ id: 1 }], 'x', [{ id: 'a\u0000', type: 'crm' }], [{ id: 'e\ud800', type: 'crm' }]]) }; break;
    case 9: m.traits = { ...(m.traits ?? {}), email: pick(['A@Example.COM', 'nope', 'a\ud800@x.io', '']), phone: pick(['+1 415 555 0100', '12', 'x']) }; break;
    case 10: m.context = { ...(m.context ?? {}), consent: { categoryPreferences: pick([{ Marketing: true }, { '': 1 }, [], null]) } }; break;
    default: break; // valid
  }
  return m;
}

// ---------------------------------------------------------------- requests
const BOMB = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)); // 64 MB of spaces, about 64 KB compressed

/** One request: path, headers, body bytes, and the plain message ids it carries (by batch index). */
function request(n) {
  const endpoint = ENDPOINTS[n % ENDPOINTS.length];
  const kind = SHORT[endpoint] ?? endpoint;
  const headers = { 'content-type': 'application/json' };
  let sent = [];
  let text;
  if (kind === 'batch') {
    const size = pick([1, 2, 5, 20, 50]);
    const batch = Array.from({ length: size }, () => message(pick(TYPES)));
    sent = batch.map((m) => (m && typeof m === 'object' && !Array.isArray(m) ? m.messageId : undefined));
    const body = { batch };
    if (chance(0.05)) body.sentAt = pick(DATES);
    text = toText(body);
  } else {
    const m = message(kind);
    if (m && typeof m === 'object' && !Array.isArray(m)) {
      if (chance(0.5)) delete m.type;
      sent = [m.messageId];
    }
    text = toText(m);
  }
  raws.clear();
  let body = Buffer.from(text);

  // Request-level faults on about a third of the requests.
  const f = int(30);
  let fault = 'none';
  if (f === 0) { fault = 'truncated'; body = body.subarray(0, int(body.length)); }
  else if (f === 1) { fault = 'contentType'; const ct = pick(['application/xml', 'multipart/form-data', 'text/html', 'application/x-www-form-urlencoded', '', 'application/json; charset=latin1']); if (ct) headers['content-type'] = ct; else delete headers['content-type']; }
  else if (f === 2) { fault = 'textPlain'; headers['content-type'] = 'text/plain;charset=UTF-8'; }
  else if (f === 3 || f === 4) { fault = 'gzip'; headers['content-encoding'] = 'gzip'; body = gzipSync(body); }
  else if (f === 5) { fault = 'deflate'; headers['content-encoding'] = 'deflate'; body = deflateSync(body); }
  else if (f === 6) { fault = 'badGzip'; headers['content-encoding'] = pick(['gzip', 'deflate']); body = chance(0.5) ? gzipSync(body).subarray(0, 12) : body; }
  else if (f === 7 && n % 25 === 7) { fault = 'bomb'; headers['content-encoding'] = 'gzip'; body = BOMB; }
  else if (f === 8) { fault = 'encoding'; headers['content-encoding'] = pick(['br', 'compress', 'gzip, gzip', 'zstd']); }
  else if (f === 9 && n % 10 === 9) { fault = 'oversize'; body = Buffer.from(`{"batch":[],"pad":"${'x'.repeat(kind === 'batch' ? 600_000 : 40_000)}"}`); }
  else if (f === 10) { fault = 'invalidUtf8'; body = Buffer.concat([body.subarray(0, Math.max(0, body.length - 2)), Buffer.from([0xff, 0xfe, 0xc3]), body.subarray(Math.max(0, body.length - 2))]); }
  else if (f === 11) { fault = 'deepBody'; body = Buffer.from(`{"batch":${nested(kind === 'batch' ? 200_000 : 15_000, true)}}`); }
  else if (f === 12) { fault = 'empty'; body = Buffer.alloc(0); }
  else if (f === 13) { fault = 'proto'; body = Buffer.from(text.replace(/^\{/, '{"__proto__":{"admin":true},')); }
  else if (f === 14) { fault = 'auth'; headers.authorization = pick(['Bearer nope', 'Basic !!!', 'Bearer ', 'Digest x']); }
  return { path: `/v1/${endpoint}`, headers, body, sent, fault };
}

// ---------------------------------------------------------------- measurement
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- run
const server = await startServerProcess();
const url = new URL(server.url);
if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) {
  await server.stop();
  throw new Error(`refusing to fuzz ${server.url}: loopback only`);
}
const pid = server.pid;
const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
const started = Date.now();

async function send(req) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${server.url}${req.path}`, {
      method: 'POST', headers: { authorization: auth, ...req.headers }, body: req.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, json, ms: performance.now() - t0 };
  } catch (err) {
    return { status: 0, error: String(err?.cause?.code ?? err?.name ?? err), ms: performance.now() - t0 };
  }
}

// Cold: after 100 valid messages. Then a warm-up of fuzzed requests (the same mix; checked like the
// rest, reported apart) brings the heap to its working size: the level after it is "idle".
for (let i = 0; i < 100; i++) {
  const m = validMessage(pick(TYPES));
  await send({ path: '/v1/batch', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ batch: [m] })) });
}
await sleep(3000);
const rssCold = pid ? rssMB(pid) : null;
let rssPeak = rssCold ?? 0;
const sampler = setInterval(() => {
  const r = pid ? rssMB(pid) : null;
  if (r && r > rssPeak) rssPeak = r;
}, 200);

const accepted = new Set();
const rejected = new Set();
const unsure = new Set(); // ids of requests answered 5xx or not at all
let anomalies = 0;
let timedOut = false;
const samples5xx = [];
const newPhase = () => ({ byStatus: {}, byFault: {}, latencies: [], slowest: [], networkErrors: 0, rssTrace: [] });

/** Sends `count` fuzzed requests (numbered from `first`), CONCURRENCY at a time, into `phase`. */
async function fuzz(first, count, phase) {
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      if (Date.now() - started > DEADLINE_MS) {
        timedOut = true;
        return;
      }
      const n = next++;
      // RSS every tenth of the run: a plateau is heap high-water, a steady climb a leak.
      if (n % Math.ceil(count / 10) === 0 && pid) phase.rssTrace.push(rssMB(pid));
      const req = request(first + n);
      const r = await send(req);
      // An oversize body: the server answered 413 and closed while the client still sent. Counted
      // apart, as fuzz-graphql does; any other connection error is a failure.
      if (r.status === 0 && req.fault === 'oversize' && ['EPIPE', 'ECONNRESET'].includes(r.error)) r.status = 'cut off';
      phase.latencies.push(r.ms);
      phase.slowest.push({ ms: Math.round(r.ms), path: req.path, fault: req.fault, status: r.status, bytes: req.body.length });
      phase.slowest.sort((a, b) => b.ms - a.ms).splice(5);
      phase.byStatus[r.status] = (phase.byStatus[r.status] ?? 0) + 1;
      phase.byFault[req.fault] ??= {};
      phase.byFault[req.fault][r.status] = (phase.byFault[req.fault][r.status] ?? 0) + 1;
      if (r.status === 0) phase.networkErrors++;
      if (r.status === 'cut off') {
        for (const id of req.sent) if (isPlainId(id)) rejected.add(id); // refused: nothing of it may be stored
        continue;
      }
      if (r.status === 0 || r.status >= 500) {
        if (samples5xx.length < 5) samples5xx.push({ path: req.path, fault: req.fault, status: r.status, error: r.error, body: r.json });
        for (const id of req.sent) if (isPlainId(id)) unsure.add(id);
        continue;
      }
      const ok = new Set();
      if (r.status >= 200 && r.status < 300) {
        if (!r.json) anomalies++;
        else if (Array.isArray(r.json.results)) for (const x of r.json.results) ok.add(x.messageId);
        else if (typeof r.json.messageId === 'string') ok.add(r.json.messageId);
        else anomalies++;
      }
      for (const id of ok) accepted.add(id);
      for (const id of req.sent) if (isPlainId(id) && !ok.has(id)) rejected.add(id);
    }
  }));
}

const warm = newPhase();
await fuzz(0, WARMUP, warm);
await sleep(5000);
const rssIdle = pid ? rssMB(pid) : null;
const main = newPhase();
const mainStarted = Date.now();
await fuzz(WARMUP, REQUESTS, main);
clearInterval(sampler);
const fuzzSeconds = (Date.now() - mainStarted) / 1000;

// Right after the run, then after an idle pause; check the server is still the same process and answers.
const rssAfter = pid ? rssMB(pid) : null;
await sleep(PAUSE_MS);
const rssAfterPause = pid ? rssMB(pid) : null;
const healthRes = await fetch(`${server.url}/health`).then((r) => r.status, () => 0);
const crashes = pid && alive(pid) && healthRes === 200 ? 0 : 1;

// Every accepted message exactly once; every rejected one not at all.
const db = new pg.Client({ connectionString: server.databaseUrl });
await db.connect();
const count = async (ids) => {
  const rows = (await db.query('SELECT message_id, count(*)::int AS n FROM rapport_event WHERE message_id = ANY($1::text[]) GROUP BY message_id', [[...ids]])).rows;
  return new Map(rows.map((r) => [r.message_id, r.n]));
};
const acceptedCounts = await count(accepted);
let missing = 0;
let duplicated = 0;
for (const id of accepted) {
  const n = acceptedCounts.get(id) ?? 0;
  if (n === 0) missing++;
  if (n > 1) duplicated++;
}
const rejectedCounts = await count(rejected);
const rejectedStored = [...rejected].filter((id) => rejectedCounts.has(id)).length;
await db.end();
await server.stop();

const latencies = [...main.latencies].sort((a, b) => a - b);
const maxMs = Math.max(0, ...warm.latencies, ...main.latencies);
const fives = (phase) => Object.entries(phase.byStatus).filter(([st]) => Number(st) >= 500).reduce((a, [, n]) => a + n, 0);
const fiveXX = fives(main) + fives(warm);
const networkErrors = main.networkErrors + warm.networkErrors;
const summary = {
  bench: 'fuzz-ingest',
  seed: SEED,
  requests: latencies.length,
  concurrency: CONCURRENCY,
  seconds: Math.round(fuzzSeconds * 10) / 10,
  byStatus: main.byStatus,
  warmup: { requests: warm.latencies.length, byStatus: warm.byStatus },
  fiveXX,
  networkErrors,
  crashes,
  maxLatencyMs: Math.round(maxMs),
  p99LatencyMs: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
  over2s: [...warm.latencies, ...main.latencies].filter((ms) => ms > 2000).length,
  slowest: main.slowest,
  rssColdMB: rssCold,
  rssIdleMB: rssIdle,
  rssPeakMB: rssPeak,
  rssTraceMB: main.rssTrace,
  rssAfterMB: rssAfter,
  rssAfterPauseMB: rssAfterPause,
  pauseSeconds: PAUSE_MS / 1000,
  messagesAccepted: accepted.size,
  acceptedMissing: missing,
  acceptedDuplicated: duplicated,
  messagesRejected: rejected.size,
  rejectedButStored: rejectedStored,
  unanswered: unsure.size,
  answerAnomalies: anomalies,
  byFault: main.byFault,
  samples5xx,
  timedOut,
  machine: machine(),
};
summary.ok = fiveXX === 0 && networkErrors === 0 && crashes === 0 && maxMs < 2000 && missing === 0 && duplicated === 0 && rejectedStored === 0 &&
  anomalies === 0 && !timedOut && (rssCold === null || rssAfterPause === null || rssAfterPause <= rssCold * RSS_TOLERANCE);
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
