// GraphQL under hostile input: sends fuzzed and hostile documents (random documents built from
// the schema, fragment bombs, deep nesting, many aliases, repeated fields, directives, huge
// strings, bad variables, broken syntax and protocol misuse, by GET and POST, with admin, app and
// ingest keys) to a server in its own process, on loopback, and reports answers by status, 5xx
// (must be 0), the slowest answer (must be under 2 s), crashes (must be 0), and the server's RSS
// when idle, at its peak and after an idle pause (must be back within 10% of idle). Bounded: a fixed number of requests, a seeded PRNG,
// a per-request timeout and an overall deadline. Exits 1 when a criterion fails.
// Usage: npm run build && node bench/faults/fuzz-graphql.mjs [--requests 10000] [--concurrency 8] [--seed 11] [--pause 60]
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { buildClientSchema, getIntrospectionQuery, getNamedType, isEnumType, isInputObjectType, isInterfaceType, isListType, isNonNullType, isObjectType, isScalarType, isUnionType } from 'graphql';
import { alive, rssMB, startServerProcess } from '../lib/server-process.mjs';
import { machine } from '../lib/machine.mjs';
import { numberArg as arg } from '../lib/args.mjs';

const REQUESTS = arg('requests', 10_000);
const CONCURRENCY = arg('concurrency', 8);
const SEED = arg('seed', 11);
const REQUEST_TIMEOUT_MS = 15_000;
const DEADLINE_MS = 15 * 60_000;
const LATENCY_LIMIT_MS = 2_000;
const PAUSE_MS = arg('pause', 60) * 1000; // idle time before the last RSS reading (V8 gives pages back after ~30-60 s idle)
/** RSS after the pause may exceed the idle RSS before the run by at most 10%. */
const RSS_TOLERANCE = 1.1;
const BODY_LIMIT = 512_000; // the server's body limit (ingestion.maxBatchBytes)

// ---- seeded randomness -------------------------------------------------------------------------
let state = SEED >>> 0 || 1;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;

const NASTY_STRINGS = ['', ' ', 'a\u0000b', 'lone-\ud800', '\udc01x', '\u{1F600}', '"quoted"', '\\', '%00', 'x'.repeat(600), '<script>', "' OR 1=1 --", '\n\t', '0', '-1', 'null', 'true', '[]', '{}'];
const nastyString = () => (chance(0.5) ? pick(NASTY_STRINGS) : Array.from({ length: int(0, 40) }, () => String.fromCharCode(int(0, 0xffff))).join(''));
const nastyInt = () => pick([0, 1, -1, 20, 500, 501, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 3.5, 1e300, Number.MAX_SAFE_INTEGER, int(-100, 1000)]);
const nastyJson = (depth = 0) =>
  depth > 3 || chance(0.4)
    ? pick([null, true, 1.5, -3, nastyString(), 'x'.repeat(int(0, 2000))])
    : chance(0.5)
      ? Array.from({ length: int(0, 4) }, () => nastyJson(depth + 1))
      : Object.fromEntries(Array.from({ length: int(0, 4) }, () => [nastyString(), nastyJson(depth + 1)]));

// ---- documents built from the schema -----------------------------------------------------------
const SAFE_MUTATIONS = new Set(['identify', 'track', 'page', 'screen', 'group', 'alias', 'setConsent', 'exportProfile', 'resolveCandidate']);
let schema;
let profileIds = ['00000000-0000-0000-0000-000000000000'];

/** A GraphQL literal for an input type: mostly valid, sometimes not. */
function literal(type, depth = 0) {
  if (isNonNullType(type)) return literal(type.ofType, depth);
  if (chance(0.03)) return pick(['null', '"x"', '1', '{}', '[]', 'true', '$undeclared']);
  if (isListType(type)) return `[${Array.from({ length: int(0, 3) }, () => literal(type.ofType, depth + 1)).join(', ')}]`;
  if (isEnumType(type)) return chance(0.9) ? pick(type.getValues()).name : 'NOT_A_VALUE';
  if (isInputObjectType(type)) {
    if (depth > 3) return '{}';
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type) || chance(0.5));
    return `{ ${fields.map((f) => `${f.name}: ${literal(f.type, depth + 1)}`).join(', ')} }`;
  }
  switch (type.name) {
    case 'Int':
      return String(chance(0.8) ? int(0, 60) : nastyInt());
    case 'Float':
      return String(rand() * 100);
    case 'Boolean':
      return chance(0.5) ? 'true' : 'false';
    case 'ID':
      return JSON.stringify(chance(0.6) ? pick(profileIds) : nastyString());
    case 'JSON':
    case 'JSONObject':
      return chance(0.7) ? `{ plan: "pro", n: ${int(0, 9)} }` : JSON.stringify(nastyString());
    case 'DateTimeISO':
      return JSON.stringify(pick([new Date(Date.now() - int(0, 1e10)).toISOString(), 'yesterday', '-271821-04-19T00:00:00Z', '2024-02-30']));
    default:
      return JSON.stringify(chance(0.7) ? pick(['user_id', 'email', 'marketing', 'analytics', 'u-1', 'Profile', 'traits.email']) : nastyString());
  }
}

/** A selection set for a composite type, `budget` levels deep at most. */
function selection(type, budget) {
  if (isUnionType(type) || isInterfaceType(type)) {
    const kinds = isUnionType(type) ? type.getTypes() : schema.getPossibleTypes(type);
    return `{ __typename ${kinds.filter(() => chance(0.5)).map((t) => `... on ${t.name} ${selection(t, budget)}`).join(' ')} }`;
  }
  const fields = Object.values(type.getFields());
  const chosen = Array.from({ length: int(1, Math.min(6, fields.length)) }, () => pick(fields));
  const parts = chosen.map((f) => {
    const args = f.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined || chance(0.3));
    const argText = args.length ? `(${args.map((a) => `${a.name}: ${literal(a.type)}`).join(', ')})` : '';
    const named = getNamedType(f.type);
    const alias = chance(0.1) ? `a${int(0, 99)}: ` : '';
    const dir = chance(0.05) ? ` @include(if: ${chance(0.5)})` : '';
    if (isScalarType(named) || isEnumType(named)) return `${alias}${f.name}${argText}${dir}`;
    if (budget <= 0) return chance(0.9) ? '__typename' : `${f.name}${argText}`; // the latter: a missing selection, refused
    return `${alias}${f.name}${argText}${dir} ${selection(named, budget - 1)}`;
  });
  return `{ ${parts.join(' ')} }`;
}

function randomQuery() {
  return { kind: 'random', query: `query Fuzz ${selection(schema.getQueryType(), int(0, 6))}` };
}

function randomMutation() {
  const fields = Object.values(schema.getMutationType().getFields()).filter((f) => SAFE_MUTATIONS.has(f.name));
  const f = pick(fields);
  const args = f.args.map((a) => `${a.name}: ${literal(a.type)}`).join(', ');
  const named = getNamedType(f.type);
  const sel = isObjectType(named) ? selection(named, 1) : '';
  return { kind: 'mutation', query: `mutation { ${f.name}${args ? `(${args})` : ''} ${sel} }`, post: true };
}

// ---- hostile shapes ----------------------------------------------------------------------------
function fragmentBomb() {
  const levels = int(8, 40);
  const fanOut = int(2, 4);
  let doc = '{ health { ...F0 } }\n';
  for (let i = 0; i < levels; i++) doc += `fragment F${i} on Health { ${i < levels - 1 ? Array(fanOut).fill(`...F${i + 1}`).join(' ') : 'status'} }\n`;
  return { kind: 'fragmentBomb', query: doc };
}

function deepNesting() {
  const depth = int(11, 4000);
  if (chance(0.3)) {
    const d = Math.min(depth, 300);
    return { kind: 'deepNesting', query: `{ __type(name: "Profile") { ${'fields { type { ofType { fields { '.repeat(d)} name ${'} } } } '.repeat(d)} } }` };
  }
  if (chance(0.5)) return { kind: 'deepNesting', query: `{ ${'profiles(first: 1) { nodes { '.repeat(Math.ceil(depth / 2))} id ${'} } '.repeat(Math.ceil(depth / 2))} }` };
  return { kind: 'deepNesting', query: `{ ${'health { '.repeat(depth)} status ${'} '.repeat(depth)} }` };
}

function manyAliases() {
  const n = int(20, 3000);
  const field = pick(['health { status }', '__typename', 'purposes { name }', 'profiles(first: 1) { nodes { id } }']);
  return { kind: 'manyAliases', query: `{ ${Array.from({ length: n }, (_, i) => `a${chance(0.5) ? i : 0}: ${field}`).join(' ')} }` };
}

function repeats() {
  const n = int(10, 3000);
  const unit = pick(['status ', '... on Query { health { status } } ', 'health { status version } ']);
  return { kind: 'repeats', query: unit.startsWith('status') ? `{ health { ${unit.repeat(n)}} }` : `{ ${unit.repeat(n)}}` };
}

function manyDirectives() {
  const n = int(10, 2000);
  return { kind: 'manyDirectives', query: `query($b: Boolean = true) { health { ${'status @include(if: $b) @skip(if: false) '.repeat(Math.ceil(n / 2))} } }` };
}

function hugeStrings() {
  const size = pick([10_000, 100_000, 400_000, 600_000]);
  const big = pick(['x', '\u00e9', '\u{1F600}', '\\u0000']).repeat(size / 2);
  if (chance(0.5)) return { kind: 'hugeStrings', query: `{ profileByIdentity(type: "email", value: "${big}") { id } }` };
  return { kind: 'hugeStrings', query: 'query($v: String!) { profileByIdentity(type: "email", value: $v) { id } }', variables: { v: big } };
}

function badVariables() {
  const shapes = [
    ['query($n: Int!) { profiles(first: $n) { nodes { id } } }', () => ({ n: pick([3.5, null, 'x', 2 ** 31, {}, [], true, -1, 1e309]) })],
    ['query($n: Int!) { profiles(first: $n) { nodes { id } } }', () => ({})],
    ['query($id: ID!) { profile(id: $id) { id traits } }', () => pick([{}, { id: null }, { id: { a: 1 } }, { id: [1] }, { id: nastyString() }, { id: pick(profileIds) }])],
    ['query($f: ProfileFilter) { profiles(first: 2, filter: $f) { nodes { id } } }', () => ({ f: pick([{ identity: { type: 'email' } }, { traits: nastyJson() }, { seenSince: 'nope' }, { unknown: 1 }, 'x']) })],
    ['mutation($i: TrackInput!) { track(input: $i) { messageId duplicate } }', () => ({ i: { userId: nastyString(), event: nastyString(), properties: nastyJson() } })],
    ['query($b: Boolean!) { health @include(if: $b) { status } }', () => ({ b: pick(['yes', 1, null, [true]]) })],
    ['query($n: Int!) { profiles(first: $n) { nodes { id } } }', () => ({ n: 1, extra: nastyJson() })],
    ['query($deep: JSONObject) { profiles(first: 1, filter: { traits: $deep }) { nodes { id } } }', () => ({ deep: JSON.parse('{"a":'.repeat(3000) + '1' + '}'.repeat(3000)) })],
  ];
  const [query, vars] = pick(shapes);
  return { kind: 'badVariables', query, variables: vars(), post: query.startsWith('mutation') };
}

function introspection() {
  const q = pick([
    getIntrospectionQuery(),
    '{ __schema { types { name fields { name } } } }',
    '{ __type(name: "Profile") { fields { name type { name } } } }',
    '{ __typename }',
    'query { ...I } fragment I on Query { __schema { queryType { name } } }',
    '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
  ]);
  return { kind: 'introspection', query: q };
}

function garbage() {
  const forms = [
    () => Array.from({ length: int(1, 2000) }, () => String.fromCharCode(int(0, 0xffff))).join(''),
    () => `{ ${'a '.repeat(int(10_001, 60_000))} }`,
    () => '{'.repeat(int(1, 50_000)),
    () => `query { health { status } ${'}'.repeat(int(1, 100))}`,
    () => `{ health(${'x: 1, '.repeat(int(1, 3000))}) { status } }`,
    () => '# only a comment\n'.repeat(int(1, 2000)),
    () => `{ profile(id: ${'['.repeat(int(1, 5000))}) { id } }`,
    () => randomQuery().query.slice(0, int(1, 60)),
    () => '',
    () => 'subscription { health { status } }',
    () => 'query A { health { status } } query B { __typename }',
  ];
  return { kind: 'garbage', query: pick(forms)() };
}

function complexity() {
  const first = pick([1, 10, 100, 500, 10_000]);
  return {
    kind: 'complexity',
    query: 'query($b: Boolean!, $n: Int!) { health { status } profiles(first: $n) @include(if: $b) { nodes { id identities { value } events(first: 200) { nodes { id name properties } } } } }',
    variables: { b: chance(0.5), n: first },
  };
}

const KINDS = [
  [randomQuery, 30], [randomMutation, 8], [fragmentBomb, 5], [deepNesting, 5], [manyAliases, 5], [repeats, 4],
  [manyDirectives, 4], [hugeStrings, 4], [badVariables, 10], [introspection, 7], [garbage, 8], [complexity, 5],
];
const TOTAL_WEIGHT = KINDS.reduce((s, [, w]) => s + w, 0);
function nextDocument() {
  let r = rand() * TOTAL_WEIGHT;
  for (const [make, w] of KINDS) if ((r -= w) < 0) return make();
  return randomQuery();
}

// ---- HTTP --------------------------------------------------------------------------------------
/** One request: GET or POST, a key of some role (or none, or a bogus one), sometimes malformed. */
function buildRequest(url, keys, doc) {
  const role = pick(['admin', 'app', 'ingest', 'ingest', 'app', 'admin', chance(0.05) ? 'none' : 'bogus']);
  const auth = role === 'none' ? {} : { authorization: `Bearer ${role === 'bogus' ? `rk_${nastyString().replace(/[^\x21-\x7e]/g, 'x')}` : keys[role]}` };
  const useGet = !doc.post && chance(0.25);
  if (useGet) {
    const params = new URLSearchParams({ query: doc.query, ...(doc.variables !== undefined ? { variables: JSON.stringify(doc.variables) } : {}) });
    return { role, method: 'GET', url: `${url}/graphql?${params}`, init: { method: 'GET', headers: { ...auth, accept: 'application/json', 'apollo-require-preflight': 'true' } } };
  }
  let body = JSON.stringify({ query: doc.query, ...(doc.variables !== undefined ? { variables: doc.variables } : {}), ...(chance(0.05) ? { operationName: pick(['Nope', 'A', 'Fuzz', '']) } : {}) });
  let contentType = 'application/json';
  if (chance(0.04)) {
    const abuse = pick(['array', 'badJson', 'textPlain', 'notObject', 'apq', 'empty']);
    if (abuse === 'array') body = `[${body},${body}]`;
    else if (abuse === 'badJson') body = body.slice(0, Math.max(1, body.length - int(1, 10)));
    else if (abuse === 'textPlain') contentType = 'text/plain';
    else if (abuse === 'notObject') body = JSON.stringify(pick([1, 'q', null, [], { query: 5 }, { query: '{ __typename }', variables: 'x' }]));
    else if (abuse === 'apq') body = JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
    else body = '';
  }
  return { role, method: 'POST', url: `${url}/graphql`, init: { method: 'POST', headers: { ...auth, 'content-type': contentType }, body } };
}


/** Over the body limit or Node's 16 KB header limit: the server refuses it and closes the connection. */
const oversize = (req) => Buffer.byteLength(req.init.body ?? '') > BODY_LIMIT || req.url.length > 16_000;

/** Sends on the shared keep-alive pool; resolves with the status and body text. */
async function sendPooled(req) {
  const res = await fetch(req.url, { ...req.init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, text: await res.text() };
}

/**
 * Sends on a connection of its own: the server closes a connection whose request it refuses for
 * size, and on the shared pool that close could hit the next request sent on it.
 */
function sendAlone(req) {
  return new Promise((resolve, reject) => {
    const r = http.request(req.url, { method: req.method, headers: req.init.headers, agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    r.on('error', reject);
    r.end(req.init.body);
  });
}

/** GET /health on a connection of its own (not the fuzz's keep-alive pool); resolves with the status. */
function probeHealth(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', reject);
  });
}

async function seed(server) {
  const batch = [];
  for (let u = 0; u < 50; u++) {
    batch.push({ type: 'identify', userId: `fuzz-${u}`, traits: { email: `fuzz${u}@example.com`, plan: u % 2 ? 'pro' : 'free' } });
    for (let k = 0; k < 5; k++) batch.push({ type: 'track', userId: `fuzz-${u}`, event: 'Product Viewed', properties: { sku: `s-${k}` } });
  }
  const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` }, body: JSON.stringify({ batch }) });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`seed failed: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return [...new Set(body.results.map((r) => r.profileId))];
}

// ---- run ---------------------------------------------------------------------------------------
process.env.LOG_LEVEL ??= 'fatal'; // the server would log each refused document; LOG_LEVEL=warn to see them
// The server child gets a probe: on SIGUSR2 it runs a full GC and writes its memory usage to a
// file, so the report can tell retained heap (a leak would show) from pages V8 keeps (RSS).
const HEAP_FILE = path.join(os.tmpdir(), `fuzz-graphql-heap-${process.pid}.json`);
const probe = `import fs from 'node:fs';
fs.writeFileSync(process.env.FUZZ_HEAP_FILE, 'null');
process.on('SIGUSR2', () => { globalThis.gc?.(); globalThis.gc?.(); fs.writeFileSync(process.env.FUZZ_HEAP_FILE, JSON.stringify(process.memoryUsage())); });`;
process.env.FUZZ_HEAP_FILE = HEAP_FILE;
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc --import=data:text/javascript;base64,${Buffer.from(probe).toString('base64')}`.trim();
const server = await startServerProcess({ api: { rateLimitPerMinute: 1e9, maxComplexity: 5000, maxDepth: 10 } });
delete process.env.NODE_OPTIONS;

/** The server's heap and RSS after a full GC, in MB; null when the probe is not there. */
async function heapAfterGc(pid) {
  if (!pid || !fs.existsSync(HEAP_FILE)) return null; // without the probe, SIGUSR2 would end the server
  fs.writeFileSync(HEAP_FILE, 'null');
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const m = JSON.parse(fs.readFileSync(HEAP_FILE, 'utf8'));
    if (m) return { heap: Math.round(m.heapUsed / 2 ** 20), rss: Math.round(m.rss / 2 ** 20) };
  }
  return null;
}
const started = Date.now();
try {
  const { hostname } = new URL(server.url);
  if (hostname !== '127.0.0.1' && hostname !== 'localhost' && hostname !== '::1') throw new Error(`refusing to fuzz a non-loopback server: ${server.url}`);
  const pid = server.pid;
  profileIds = await seed(server);
  const intro = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` }, body: JSON.stringify({ query: getIntrospectionQuery() }) });
  schema = buildClientSchema((await intro.json()).data);
  // warm up (JIT, pools, caches), then let it settle before measuring the idle RSS
  for (let i = 0; i < 50; i++) await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.app}` }, body: JSON.stringify({ query: randomQuery().query }) }).then((r) => r.arrayBuffer());
  await new Promise((r) => setTimeout(r, 2000));
  const rssIdle = pid ? rssMB(pid) : null;
  const heapIdle = await heapAfterGc(pid);

  const byStatus = {};
  const byKind = {};
  const fiveXX = [];
  const internalIn200 = [];
  let maxLatency = 0;
  let slowest = null;
  const latencies = [];
  let timeouts = 0;
  let networkErrors = 0;
  let cutOff = 0;
  let rssPeak = rssIdle ?? 0;
  const rssSeries = []; // every 1,000 requests: a plateau means bounded caches, a climb a leak
  const sampler = setInterval(() => {
    const r = pid ? rssMB(pid) : null;
    if (r) rssPeak = Math.max(rssPeak, r);
  }, 200);
  // /health while the fuzz runs: the event loop must stay responsive
  let healthMax = 0;
  const healthFailures = {};
  const fail = (what) => (healthFailures[what] = (healthFailures[what] ?? 0) + 1);
  let fuzzing = true;
  const healthLoop = (async () => {
    while (fuzzing) {
      const t0 = performance.now();
      try {
        const status = await probeHealth(server.url);
        if (status !== 200) fail(status);
      } catch (err) {
        fail(`${err.code ?? err.message}`);
      }
      healthMax = Math.max(healthMax, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  let next = 0;
  const worker = async () => {
    while (next < REQUESTS && Date.now() - started < DEADLINE_MS) {
      next++;
      const doc = nextDocument();
      const req = buildRequest(server.url, server.keys, doc);
      const t0 = performance.now();
      let status;
      try {
        const { status: code, text } = oversize(req) ? await sendAlone(req) : await sendPooled(req);
        status = code;
        if (status >= 500) fiveXX.push({ kind: doc.kind, method: req.method, role: req.role, status, body: text.slice(0, 300), query: doc.query.slice(0, 300) });
        else if (status === 200 && text.includes('INTERNAL_SERVER_ERROR')) {
          const where = JSON.parse(text).errors?.find((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR')?.path?.[0] ?? `(${doc.kind})`;
          internalIn200.push({ where, kind: doc.kind, role: req.role, query: doc.query.slice(0, 400) });
        }
      } catch (err) {
        status = err.name === 'TimeoutError' ? 'timeout' : 'network';
        if (status === 'timeout') timeouts++;
        else if (oversize(req) && ['EPIPE', 'ECONNRESET'].includes(err.code)) {
          status = 'cut off'; // the server answered 413/431 and closed the connection while the client still sent
          cutOff++;
        } else {
          networkErrors++;
          if (networkErrors <= 5) console.error('network error:', doc.kind, req.method, (req.init.body ?? req.url).length, 'bytes:', err.cause?.code ?? err.cause?.message ?? err.message);
        }
      }
      const ms = performance.now() - t0;
      latencies.push(ms);
      if (latencies.length % 1000 === 0 && pid) rssSeries.push(rssMB(pid));
      if (ms > maxLatency) {
        maxLatency = ms;
        slowest = { kind: doc.kind, method: req.method, status, bytes: (req.init.body ?? req.url).length };
      }
      byStatus[status] = (byStatus[status] ?? 0) + 1;
      const k = (byKind[doc.kind] ??= { count: 0, statuses: {}, maxMs: 0 });
      k.count++;
      k.statuses[status] = (k.statuses[status] ?? 0) + 1;
      k.maxMs = Math.max(k.maxMs, Math.round(ms));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  fuzzing = false;
  await healthLoop;
  clearInterval(sampler);
  const rssAfter = pid ? rssMB(pid) : null;
  await new Promise((r) => setTimeout(r, PAUSE_MS));
  const rssSettled = pid ? rssMB(pid) : null;
  const heapAfter = await heapAfterGc(pid);
  const crashes = pid && !alive(pid) ? 1 : 0;
  const finalHealth = await fetch(`${server.url}/health`).then((r) => r.status).catch(() => 'down');

  latencies.sort((a, b) => a - b);
  const sent = latencies.length;
  const result = {
    bench: 'fuzz-graphql', date: new Date().toISOString(), machine: machine(), seed: SEED, requests: sent, concurrency: CONCURRENCY, seconds: +seconds.toFixed(1),
    byStatus, fiveXX: fiveXX.length, timeouts, networkErrors, oversizeBodiesCutOff: cutOff, crashes, finalHealth,
    maxLatencyMs: Math.round(maxLatency), p99LatencyMs: Math.round(latencies[Math.floor(sent * 0.99)] ?? 0), slowest,
    healthMaxMs: Math.round(healthMax), healthFailures,
    // not 5xx, but resolver errors the server did not expect (HTTP 200, INTERNAL_SERVER_ERROR in errors), by field
    internalErrorsIn200: internalIn200.length,
    internalErrorsIn200ByField: internalIn200.reduce((m, e) => ({ ...m, [e.where]: (m[e.where] ?? 0) + 1 }), {}),
    rssMB: { idle: rssIdle, peak: rssPeak, after: rssAfter, afterPause: rssSettled, pauseSeconds: PAUSE_MS / 1000, everyThousand: rssSeries },
    heapAfterFullGcMB: { idle: heapIdle?.heap ?? null, after: heapAfter?.heap ?? null },
    rssAfterFullGcMB: { idle: heapIdle?.rss ?? null, after: heapAfter?.rss ?? null },
    byKind,
  };
  const rssBack = rssIdle === null || rssSettled === null || rssSettled <= rssIdle * RSS_TOLERANCE;
  const ok = rssBack && sent === REQUESTS && fiveXX.length === 0 && timeouts === 0 && networkErrors === 0 && crashes === 0 && finalHealth === 200 && Object.keys(healthFailures).length === 0 && maxLatency < LATENCY_LIMIT_MS;
  // RSS is judged after the pause: V8 keeps the pages it grew into until the process has been idle a while
  for (const f of fiveXX.slice(0, 5)) console.error('5xx:', JSON.stringify(f));
  const firstPerField = new Map(internalIn200.map((e) => [e.where, e]).reverse());
  for (const f of firstPerField.values()) console.error('INTERNAL_SERVER_ERROR in a 200:', JSON.stringify(f));
  fs.mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
  fs.writeFileSync(new URL('../results/fuzz-graphql.json', import.meta.url), JSON.stringify({ ...result, ok }, null, 2) + '\n');
  console.log(JSON.stringify({ ...result, ok }));
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.stop();
  fs.rmSync(HEAP_FILE, { force: true });
}
