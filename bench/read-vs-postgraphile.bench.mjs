// Reads side by side with PostGraphile 4, on the same PostgreSQL and the same rows:
//   Rapport:      profile(id) { id traits identities { type value } events(first: 10) { nodes { type name timestamp properties } } }
//   PostGraphile: the same data through its generated schema (rapportProfileById, its identities and events).
// Rapport runs with the field guard on and a policy on each datum the query reads (traits, identities,
// events: purpose `personalization`, role `app`, email as PII, so every read is also audited), for a
// key acting for that purpose, on profiles that granted it. A third server runs Rapport without the
// field guard (`--no-guard-server` skips it) to price the guard. Runs are interleaved in rounds
// (order rotating), autocannon with 32 connections from this process, each server in its own. Each
// run also reports the CPU its server process spent per request, and the embedded PostgreSQL's
// (from /proc: steadier than requests/s on a shared machine, and it shows where a difference lies).
// Usage: npm run build && node bench/read-vs-postgraphile.bench.mjs [--profiles 10000] [--events 30] [--pairs 3] [--seconds 15] [--vacuum]
//        [--rate N] [--concurrent] [--baseline dir] [--baseline-node-args "max-semi-space-size=64"] [--servers rapport,postgraphile,unguarded,baseline]
// --rate N: a fixed N requests/s per run instead of as many as 32 connections get; the CPU per request then
// compares builds without the contention of a saturated 2-core machine (requests/s is then N for all).
// --baseline dir: another built checkout of Rapport (`git worktree add /tmp/old <commit>`, `npm ci`, `npx tsc -b`),
// run as a fourth server, guarded like the first, on the same database (its migrations must be the same): the
// change's effect, read from `current / baseline` of each round. --baseline-node-args: Node options for the baseline
// server only (with --baseline . it prices a Node flag on the same code).
// --concurrent: the Rapport servers (guarded, unguarded, baseline) are loaded at the same time, each with its own 32
// connections (with --rate N: at N requests/s each), and each one's CPU per request is its own process's plus that
// of the PostgreSQL backends serving its pooled connections (matched by port). The machine's drift, which moves
// separate runs by 20 to 40%, then weighs on every server alike: without --rate the servers share the machine and
// their requests/s compare their costs; with it, their CPU per request does. PostGraphile is not run in this mode,
// and the result goes to bench/results/read-vs-postgraphile-concurrent.json (with --rate: ...-concurrent-rate.json).
// BENCH_CPU_PROF=1: a V8 CPU profile of each Rapport server in /tmp/prof (the baseline's aside); the rows are then
// seeded through a server of their own, so the profiles hold the reads alone.
// --vacuum: VACUUM (ANALYZE) the freshly seeded database before the warm-up, so that the first runs do not
// pay for autovacuum and hint bits of the 310,000 new rows (the server that runs first, Rapport with the
// guard, otherwise carries that PostgreSQL work in round 1).
import fs from 'node:fs';
import os from 'node:os';
import autocannon from 'autocannon';
import { startServerProcess } from './lib/server-process.mjs';
import { startPostGraphile } from './lib/postgraphile.mjs';
import { machine } from './lib/machine.mjs';
import path from 'node:path';
import { numberArg as arg, stringArg } from './lib/args.mjs';
import { localPortsOf, processCpuSeconds } from './lib/process-cpu.mjs';

const PROFILES = arg('profiles', 10_000);
const EVENTS = arg('events', 30);
const PAIRS = arg('pairs', 3);
const SECONDS = arg('seconds', 15);
const CONNECTIONS = arg('connections', 32);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const WITH_UNGUARDED = !process.argv.includes('--no-guard-server');
const VACUUM = process.argv.includes('--vacuum');
const RATE = arg('rate', 0);
const CONCURRENT = process.argv.includes('--concurrent');
const BASELINE = stringArg('baseline', null);
if (BASELINE && !fs.existsSync(path.join(BASELINE, 'bench/lib/server-child.cjs'))) throw new Error(`--baseline: ${BASELINE} holds no bench/lib/server-child.cjs`);
// Given without their leading dashes (an option's value may not start with --): "max-semi-space-size=64".
const BASELINE_NODE_ARGS = stringArg('baseline-node-args', '').split(' ').filter(Boolean).map((a) => `--${a.replace(/^-+/, '')}`);
const SERVERS = new Set(stringArg('servers', 'rapport,postgraphile,unguarded,baseline').split(','));
if (CONCURRENT) SERVERS.delete('postgraphile');

const RAPPORT_QUERY = 'query($id: ID!) { profile(id: $id) { id traits identities { type value } events(first: 10) { nodes { type name timestamp properties } } } }';
const PGL_QUERY = `query($id: UUID!) { rapportProfileById(id: $id) { id traits
  rapportIdentitiesByProfileId { nodes { type value } }
  rapportEventsByProfileId(first: 10, orderBy: [TIMESTAMP_DESC, ID_DESC]) { nodes { type name timestamp properties } } } }`;

async function post(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** 10,000 people by default: an identify (email, name, plan, consent to personalization), then tracks. */
async function seed(server) {
  const auth = { authorization: `Bearer ${server.keys.admin}` };
  const batches = [];
  for (let start = 0; start < PROFILES; start += 10) {
    const batch = [];
    for (let u = start; u < Math.min(start + 10, PROFILES); u++) {
      batch.push({
        type: 'identify', userId: `reader-${u}`, traits: { email: `reader${u}@example.com`, name: `Reader ${u}`, plan: u % 2 ? 'pro' : 'free' },
        context: { consent: { categoryPreferences: { personalization: true } } },
      });
      for (let k = 0; k < EVENTS; k++) {
        batch.push({ type: 'track', userId: `reader-${u}`, event: k % 4 ? 'Product Viewed' : 'Order Completed', timestamp: new Date(T0 + (u * EVENTS + k) * 1000).toISOString(), properties: { product_id: `p-${(u * 7 + k) % 500}`, price: 9.99 } });
      }
    }
    batches.push(batch);
  }
  const ids = new Set();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < batches.length) {
      const r = await post(`${server.url}/v1/batch`, { batch: batches[next++] }, auth);
      if (r.status !== 200) throw new Error(`seed failed: ${JSON.stringify(r.body)}`);
      for (const x of r.body.results) ids.add(x.profileId);
    }
  }));
  return [...ids];
}

async function gql(server, key, query, variables, headers = {}) {
  const r = await post(`${server.url}/graphql`, { query, variables }, { authorization: `Bearer ${key}`, ...headers });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data;
}

function load(url, query, ids, headers, seconds) {
  return new Promise((resolve, reject) => {
    let bad = 0;
    const inst = autocannon({
      url: `${url}/graphql`, connections: CONNECTIONS, duration: seconds, ...(RATE > 0 ? { overallRate: RATE } : {}),
      requests: [{
        method: 'POST', headers: { 'content-type': 'application/json', ...headers },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ query, variables: { id: ids[Math.floor(Math.random() * ids.length)] } }) }),
      }],
    }, (err, res) => (err ? reject(err) : resolve({ res, bad })));
    inst.on('response', (_c, status) => {
      if (status !== 200) bad++;
    });
  });
}

/** Fields of /proc/<pid>/stat after the command name (index 11: utime, 12: stime, 13: cutime, 14: cstime; 1: ppid). */
function statOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  } catch {
    return null;
  }
}
/** CPU seconds a process has used so far (user + system). */
function cpuSeconds(pid) {
  const f = statOf(pid);
  return f ? (f[11] + f[12]) / 100 : 0;
}
/**
 * CPU seconds the embedded PostgreSQL cluster has used so far: its postmaster with the backends it
 * has reaped (cutime, cstime) and those still running. Null on an external database.
 */
function clusterCpuSeconds(postmasterPid) {
  if (!postmasterPid) return null;
  const pm = statOf(postmasterPid);
  if (!pm) return null;
  let sum = pm[11] + pm[12] + pm[13] + pm[14];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statOf(d);
    if (f && f[1] === postmasterPid) sum += f[11] + f[12];
  }
  return sum / 100;
}
/** Runs a load and adds the CPU the server process and PostgreSQL spent per request (ms). */
async function measured(pid, postmasterPid, run) {
  const s0 = cpuSeconds(pid);
  const p0 = clusterCpuSeconds(postmasterPid);
  const out = await run();
  const n = out.res.requests.total || 1;
  out.serverCpuMsPerRequest = +(((cpuSeconds(pid) - s0) * 1000) / n).toFixed(3);
  const p1 = clusterCpuSeconds(postmasterPid);
  out.postgresCpuMsPerRequest = p0 === null || p1 === null ? null : +(((p1 - p0) * 1000) / n).toFixed(3);
  return out;
}

const fig = ({ res, bad, serverCpuMsPerRequest, postgresCpuMsPerRequest }) => ({ requestsPerSec: Math.round(res.requests.average), p50: res.latency.p50, p99: res.latency.p99, max: res.latency.max, non200: bad, errors: res.errors, serverCpuMsPerRequest, postgresCpuMsPerRequest });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rapport = await startServerProcess();
const servers = [rapport];
let admin = null;
try {
  const baseline = BASELINE && SERVERS.has('baseline') ? await startServerProcess({ root: path.resolve(BASELINE), nodeArgs: BASELINE_NODE_ARGS, cpuProf: false, database: { url: rapport.databaseUrl, poolSize: 20 } }) : null;
  if (baseline) servers.push(baseline);
  const unguarded = WITH_UNGUARDED && SERVERS.has('unguarded') ? await startServerProcess({ bench: { fieldGuard: false }, database: { url: rapport.databaseUrl, poolSize: 20 } }) : null;
  if (unguarded) servers.push(unguarded);
  // With BENCH_CPU_PROF, the rows go in through a server of their own, stopped before the load: the profiles
  // then hold the reads alone, not the ingestion of 310,000 events.
  const seeder = process.env.BENCH_CPU_PROF ? await startServerProcess({ cpuProf: false, database: { url: rapport.databaseUrl, poolSize: 20 } }) : rapport;
  const ids = await seed(seeder);
  if (seeder !== rapport) await seeder.stop();
  // A policy on each datum read: three traits (email is PII, so each read is audited), the
  // identities, the events, and the events' payload keys.
  for (const element of ['trait:email', 'trait:name', 'trait:plan', 'identities', 'events', 'event:*.properties.*']) {
    await gql(rapport, rapport.keys.admin, 'mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }', {
      i: { element, purposes: ['personalization'], roles: ['app'], pii: element === 'trait:email' },
    });
  }
  const app = (await gql(rapport, rapport.keys.admin, 'mutation { createApiKey(input: { name: "bench-reader", roles: ["app"], purposes: ["personalization"] }) { key } }')).createApiKey.key;
  const rapportHeaders = { authorization: `Bearer ${app}`, 'x-rapport-purpose': 'personalization' };
  if (VACUUM) {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: rapport.databaseUrl });
    await c.connect();
    await c.query('VACUUM (ANALYZE)');
    await c.end();
  }
  const pgl = await startPostGraphile(rapport.databaseUrl);
  servers.push(pgl);

  // One answer from each, checked, before measuring: a fast error is not a read.
  const mine = (await gql(rapport, app, RAPPORT_QUERY, { id: ids[0] }, { 'x-rapport-purpose': 'personalization' })).profile;
  if (!mine.traits.email || mine.identities.length !== 2 || mine.events.nodes.length !== 10) throw new Error(`Rapport's answer is not complete: ${JSON.stringify(mine)}`);
  const theirs = (await post(`${pgl.url}/graphql`, { query: PGL_QUERY, variables: { id: ids[0] } })).body;
  if (theirs.errors || theirs.data.rapportProfileById.rapportEventsByProfileId.nodes.length !== 10) throw new Error(`PostGraphile's answer is not complete: ${JSON.stringify(theirs)}`);
  if (JSON.stringify(theirs.data.rapportProfileById.rapportEventsByProfileId.nodes.map((e) => e.name)) !== JSON.stringify(mine.events.nodes.map((e) => e.name))) {
    throw new Error('the two servers disagree on the events page');
  }

  // The embedded cluster's postmaster (its pid file's first line), to count PostgreSQL's CPU per request.
  const pidFile = `${os.tmpdir()}/rapport-bench-${rapport.pid}/pgdata/postmaster.pid`;
  const postmaster = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : null;
  const runs = {
    rapport: () => measured(rapport.pid, postmaster, () => load(rapport.url, RAPPORT_QUERY, ids, rapportHeaders, SECONDS)),
    ...(SERVERS.has('postgraphile') ? { postgraphile: () => measured(pgl.pid, postmaster, () => load(pgl.url, PGL_QUERY, ids, {}, SECONDS)) } : {}),
    ...(unguarded ? { unguarded: () => measured(unguarded.pid, postmaster, () => load(unguarded.url, RAPPORT_QUERY, ids, rapportHeaders, SECONDS)) } : {}),
    ...(baseline ? { baseline: () => measured(baseline.pid, postmaster, () => load(baseline.url, RAPPORT_QUERY, ids, rapportHeaders, SECONDS)) } : {}),
  };
  // Warm-up: JIT, caches, pools.
  await load(rapport.url, RAPPORT_QUERY, ids, rapportHeaders, 5);
  if (runs.postgraphile) await load(pgl.url, PGL_QUERY, ids, {}, 5);
  if (unguarded) await load(unguarded.url, RAPPORT_QUERY, ids, rapportHeaders, 5);
  if (baseline) await load(baseline.url, RAPPORT_QUERY, ids, rapportHeaders, 5);

  const pairs = [];
  // --concurrent: every Rapport server at once, each at RATE, CPU from its process and its own backends.
  if (CONCURRENT) {
    admin = new (await import('pg')).default.Client({ connectionString: rapport.databaseUrl });
    await admin.connect();
  }
  /** CPU seconds so far of each PostgreSQL backend serving a connection of process `pid`. */
  const backendCpu = async (pid) => {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [[...localPortsOf(pid)]]);
    return new Map(rows.map((r) => [r.pid, processCpuSeconds(r.pid)]));
  };
  const together = [['rapport', rapport], ['unguarded', unguarded], ['baseline', baseline]].filter(([, s]) => s);
  const concurrentRound = async () => {
    // Backends are sampled every half second while the load runs: one a pool closes (idle) keeps the CPU it had.
    const first = together.map(() => new Map());
    const last = together.map(() => new Map());
    const sample = async () => {
      const now = await Promise.all(together.map(([, s]) => backendCpu(s.pid)));
      now.forEach((m, k) => m.forEach((cpu, pid) => {
        if (!first[k].has(pid)) first[k].set(pid, cpu);
        last[k].set(pid, cpu);
      }));
    };
    const node0 = together.map(([, s]) => processCpuSeconds(s.pid));
    const audit0 = await auditCounts();
    await sample();
    const atStart = new Set(together.flatMap((_, k) => [...first[k].keys()]));
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await new Promise((r) => setTimeout(r, 500));
        await sample();
      }
    })();
    const loads = await Promise.all(together.map(([, s]) => load(s.url, RAPPORT_QUERY, ids, rapportHeaders, SECONDS)));
    sampling = false;
    await sampler;
    await sample();
    const round = {};
    together.forEach(([name, s], k) => {
      const n = loads[k].res.requests.total || 1;
      let pgSeconds = 0;
      // A backend first seen during the run started then: all its CPU is this run's.
      for (const [pid, cpu] of last[k]) pgSeconds += cpu - (atStart.has(pid) ? first[k].get(pid) : 0);
      round[name] = {
        ...fig({ ...loads[k], serverCpuMsPerRequest: +(((processCpuSeconds(s.pid) - node0[k]) * 1000) / n).toFixed(3), postgresCpuMsPerRequest: +((pgSeconds * 1000) / n).toFixed(3) }),
        backends: last[k].size,
      };
    });
    // Rows of the audit log's `read` entries per commit (one call of rapport_audit_reads stamps its rows with one
    // `at`, its transaction's start): how well concurrent reads share the audit write. Every guarded server's.
    const audit1 = await auditCounts();
    round.auditRowsPerCommit = +((audit1.rows - audit0.rows) / Math.max(1, audit1.commits - audit0.commits)).toFixed(2);
    return round;
  };
  /** The audit log's `read` rows and their distinct commits (`at`) so far. */
  const auditCounts = async () => {
    const { rows: [r] } = await admin.query(`SELECT count(*)::int AS rows, count(DISTINCT at)::int AS commits FROM rapport_audit_log WHERE action = 'read'`);
    return r;
  };
  /** Server and PostgreSQL CPU per request of one run, in ms. */
  const cpuOf = (f) => f.serverCpuMsPerRequest + (f.postgresCpuMsPerRequest ?? 0);
  /** One round of sequential runs, one server after the other. */
  const sequentialRound = async (i) => {
    // The order rotates, so no server always runs first or last (caches, the machine's drift).
    const order = ['rapport', 'postgraphile', 'unguarded', 'baseline'].filter((n) => runs[n]);
    for (let k = 0; k < i % order.length; k++) order.push(order.shift());
    const round = {};
    for (const name of order) round[name] = fig(await runs[name]());
    return round;
  };
  for (let i = 0; i < PAIRS; i++) {
    const pair = CONCURRENT ? await concurrentRound() : await sequentialRound(i);
    // At a fixed rate requests/s are the same for all: the guard's price is then its CPU per request (server and
    // PostgreSQL), guarded over unguarded, minus one.
    if (RATE && pair.unguarded) pair.cpuGuardCost = +(cpuOf(pair.rapport) / cpuOf(pair.unguarded) - 1).toFixed(3);
    if (pair.postgraphile) pair.ratio = +(pair.rapport.requestsPerSec / pair.postgraphile.requestsPerSec).toFixed(3);
    if (pair.unguarded) pair.guardCost = +(1 - pair.rapport.requestsPerSec / pair.unguarded.requestsPerSec).toFixed(3);
    if (pair.baseline) {
      pair.overBaseline = +(pair.rapport.requestsPerSec / pair.baseline.requestsPerSec).toFixed(3);
      // Server and PostgreSQL CPU per request, this build over the baseline's (below 1: cheaper).
      pair.cpuOverBaseline = +(cpuOf(pair.rapport) / cpuOf(pair.baseline)).toFixed(3);
    }
    pairs.push(pair);
    console.log(JSON.stringify({ pair: i + 1, ...pair }));
  }
  const result = {
    bench: 'read-vs-postgraphile', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded',
    profiles: ids.length, eventsPerProfile: EVENTS + 1, vacuumed: VACUUM, connections: CONNECTIONS, seconds: SECONDS, rapportQuery: RAPPORT_QUERY, postgraphileQuery: PGL_QUERY,
    rate: RATE || null, baseline: BASELINE, baselineNodeArgs: BASELINE_NODE_ARGS,
    pairs,
    ...(runs.postgraphile ? {
      medianRatio: median(pairs.map((p) => p.ratio)),
      medianP99: { rapport: median(pairs.map((p) => p.rapport.p99)), postgraphile: median(pairs.map((p) => p.postgraphile.p99)) },
    } : {}),
    ...(unguarded ? { medianGuardCost: median(pairs.map((p) => p.guardCost)) } : {}),
    ...(unguarded && RATE ? { medianCpuGuardCost: median(pairs.map((p) => p.cpuGuardCost)) } : {}),
    concurrent: CONCURRENT,
    ...(baseline ? { medianOverBaseline: median(pairs.map((p) => p.overBaseline)), medianCpuOverBaseline: median(pairs.map((p) => p.cpuOverBaseline)) } : {}),
  };
  fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  // A concurrent run keeps its own file (at a fixed rate, another: its figure is the CPU per request): the
  // sequential rounds with PostGraphile are issue 14's figure.
  const file = CONCURRENT ? (RATE ? 'read-vs-postgraphile-concurrent-rate.json' : 'read-vs-postgraphile-concurrent.json') : 'read-vs-postgraphile.json';
  fs.writeFileSync(new URL(`./results/${file}`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify({ medianRatio: result.medianRatio, medianP99: result.medianP99, medianGuardCost: result.medianGuardCost, medianCpuGuardCost: result.medianCpuGuardCost, medianOverBaseline: result.medianOverBaseline, medianCpuOverBaseline: result.medianCpuOverBaseline }));
} finally {
  await admin?.end();
  for (const s of servers.reverse()) await s.stop();
}
