// Recommendation serving: requests per second and latency percentiles of
//   profile(id) { recommendations(first: 10) { item { id } score reason } }
// under autocannon (16 connections, 15 s, random profiles), after seeding MovieLens-small
// (movies as catalog items, every rating as a Product Viewed event through /v1/batch, every user
// consenting to personalization) and training EASE with `rapport train recommendations`.
// Usage: npm run build && node bench/recs-serve.bench.mjs [--seconds 15] [--connections 16] [--workers 1]
//        [--history-cache 10000] (0: every request reads the profile's interactions from PostgreSQL)
//        [--events-per-sec 0] (also send this many Product Viewed events a second, in batches every
//        100 ms, for random MovieLens users, while the reads run: each drops a profile from the cache)
// With DATABASE_URL and --reuse, a database this script seeded and trained before is served again
// as it is (for quick iterations on serving; recorded figures come from a fresh run).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { startServerProcess } from './lib/server-process.mjs';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.join(ROOT, 'data/movielens-latest-small');
const SECONDS = arg('seconds', 15);
const WORKERS = arg('workers', 1);
const REUSE = process.argv.includes('--reuse') && Boolean(process.env.DATABASE_URL);
const CONNECTIONS = arg('connections', 16);
const EVENTS_PER_SEC = arg('events-per-sec', 0);
const QUERY = 'query($id: ID!) { profile(id: $id) { recommendations(first: 10) { item { id } score reason } } }';

/** Minimal CSV line parser (quoted fields with commas, as in movies.csv). */
function csvLine(line) {
  const out = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

async function post(server, pathname, body, key = server.keys.admin) {
  const res = await fetch(`${server.url}${pathname}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200 || json.errors?.length) throw new Error(`${pathname} failed (${res.status}): ${JSON.stringify(json).slice(0, 500)}`);
  return json;
}

/** Movies as items; ratings as Product Viewed events of consenting users. Returns the profile ids. */
async function seed(server) {
  const movies = fs.readFileSync(path.join(DATA, 'movies.csv'), 'utf8').trim().split('\n').slice(1).map(csvLine);
  const items = movies.map(([id, title, genres]) => {
    const g = genres === '(no genres listed)' ? [] : genres.split('|');
    const year = /\((\d{4})\)\s*$/.exec(title)?.[1];
    return { id: `movie-${id}`, title, category: g[0] ?? null, attributes: { genres: g, ...(year ? { year: Number(year) } : {}) } };
  });
  for (let i = 0; i < items.length; i += 1000) {
    await post(server, '/graphql', { query: 'mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id } }', variables: { items: items.slice(i, i + 1000) } });
  }
  const ratings = fs.readFileSync(path.join(DATA, 'ratings.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const users = new Map();
  for (const [u, m, , ts] of ratings) {
    if (!users.has(u)) users.set(u, []);
    users.get(u).push({ type: 'track', userId: `ml-${u}`, event: 'Product Viewed', properties: { product_id: `movie-${m}` }, timestamp: new Date(Number(ts) * 1000).toISOString() });
  }
  const messages = [];
  for (const [u, evs] of users) {
    messages.push({ type: 'identify', userId: `ml-${u}`, traits: { source: 'movielens' }, context: { consent: { categoryPreferences: { personalization: true } } } });
    messages.push(...evs);
  }
  const ids = new Set();
  const batches = [];
  for (let i = 0; i < messages.length; i += 2000) batches.push(messages.slice(i, i + 2000));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < batches.length) {
        const b = batches[next++];
        const r = await post(server, '/v1/batch', { batch: b });
        for (const x of r.results) ids.add(x.profileId);
        if (next % 10 === 0) console.error(`  ${next}/${batches.length} batches`);
      }
    }),
  );
  return { ids: [...ids], items: items.length, events: ratings.length, users: users.size };
}

/** What an earlier run left in the database (--reuse), or null when there is nothing to reuse. */
async function seededBefore(databaseUrl) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const [{ items, events, models }] = (await client.query(
      'SELECT (SELECT count(*) FROM rec_item)::int AS items, (SELECT count(*) FROM rec_interaction)::int AS events, (SELECT count(*) FROM rec_model)::int AS models',
    )).rows;
    if (!items || !models) return null;
    const ids = (await client.query('SELECT DISTINCT profile_id FROM rec_interaction')).rows.map((r) => r.profile_id);
    return { ids, items, events, users: ids.length };
  } finally {
    await client.end();
  }
}

function trainWithCli(databaseUrl) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'packages/server/bin/rapport.js'), 'train', 'recommendations'], {
      cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`rapport train exited with ${code}`))));
  });
}

/**
 * Sends `perSecond` Product Viewed events a second (a batch every 100 ms, from random MovieLens
 * users for random movies) until stopped; resolves with the batches' latencies and counts.
 */
function writeEvents(server, perSecond) {
  const movies = fs.readFileSync(path.join(DATA, 'movies.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.slice(0, l.indexOf(',')));
  const latencies = [];
  let events = 0;
  let failures = 0;
  let stopped = false;
  const perBatch = Math.max(1, Math.round(perSecond / 10));
  const inFlight = new Set();
  const done = (async () => {
    const t0 = performance.now();
    // A batch every 100 ms whether or not the previous ones have answered (an open-loop load).
    for (let tick = 0; !stopped; tick++) {
      const batch = Array.from({ length: perBatch }, () => ({
        type: 'track', userId: `ml-${1 + Math.floor(Math.random() * 610)}`, event: 'Product Viewed',
        properties: { product_id: `movie-${movies[Math.floor(Math.random() * movies.length)]}` },
      }));
      const t = performance.now();
      const p = post(server, '/v1/batch', { batch }, server.keys.ingest).then(
        () => {
          latencies.push(performance.now() - t);
          events += batch.length;
        },
        () => void failures++,
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      const wait = t0 + (tick + 1) * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inFlight);
    return (performance.now() - t0) / 1000;
  })();
  return {
    async stop() {
      stopped = true;
      const seconds = await done;
      latencies.sort((a, b) => a - b);
      const q = (p) => Number((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1));
      return { eventsPerSec: Math.round(events / seconds), batches: latencies.length, failures, batchLatencyMs: { p50: q(0.5), p99: q(0.99) } };
    },
  };
}

function load(server, ids, { seconds, connections, key }) {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: `${server.url}/graphql`, connections, duration: seconds,
        requests: [{
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          setupRequest: (req) => ({ ...req, body: JSON.stringify({ query: QUERY, variables: { id: ids[Math.floor(Math.random() * ids.length)] } }) }),
        }],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_client, status) => {
      if (status !== 200) inst.stop();
    });
  });
}

/** Resolves once every plugin's delivery has caught up (the deliveryStatus query shows no lag). */
async function caughtUp(srv) {
  for (;;) {
    const r = await fetch(`${srv.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${srv.keys.admin}` }, body: JSON.stringify({ query: '{ deliveryStatus { lag } }' }) });
    const body = await r.json();
    if (body.data?.deliveryStatus.every((d) => d.lag === 0)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
}

const server = await startServerProcess({ recommendations: { pollMs: 1000, historyCache: arg('history-cache', 10_000) }, workers: WORKERS });
try {
  let t = performance.now();
  const previous = REUSE ? await seededBefore(server.databaseUrl) : null;
  const seeded = previous ?? (await seed(server));
  await caughtUp(server); // the plugin counts events off the request path: train once it has
  const seedSeconds = (performance.now() - t) / 1000;
  console.error(`seeded ${seeded.items} items, ${seeded.events} events, ${seeded.ids.length} profiles in ${seedSeconds.toFixed(1)} s`);
  t = performance.now();
  const training = previous ? { reused: true } : await trainWithCli(server.databaseUrl);
  console.error(`trained: ${JSON.stringify(training)}`);
  // The server picks the new version up by polling, without restart.
  let status;
  for (let i = 0; i < 600; i++) {
    status = (await post(server, '/graphql', { query: '{ recommendationModel { model version items lastError } }' })).data.recommendationModel;
    if (status.model === 'ease') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (status.model !== 'ease') throw new Error(`the server did not load the trained model: ${JSON.stringify(status)}`);
  // An app key acting for personalization (its one purpose), as a shop's storefront would: the
  // field's purpose; a key acting for none gets popularity (the field's fallback) instead.
  const key = (await post(server, '/graphql', { query: 'mutation { createApiKey(input: { name: "storefront", roles: ["app"], purposes: ["personalization"] }) { key } }' })).data.createApiKey.key;
  const check = await post(server, '/graphql', { query: QUERY, variables: { id: seeded.ids[0] } }, key);
  const recs = check.data.profile.recommendations;
  if (recs.length !== 10) throw new Error(`bad answer: ${JSON.stringify(check)}`);
  if (!recs.some((x) => x.reason.startsWith('because'))) throw new Error(`not personal picks: ${JSON.stringify(recs.slice(0, 3))}`);
  console.error(`sample: ${JSON.stringify(recs.slice(0, 3))}`);
  await load(server, seeded.ids, { seconds: 3, connections: CONNECTIONS, key }); // warm-up
  const writer = EVENTS_PER_SEC > 0 ? writeEvents(server, EVENTS_PER_SEC) : null;
  const r = await load(server, seeded.ids, { seconds: SECONDS, connections: CONNECTIONS, key });
  const writes = writer ? await writer.stop() : null;
  const result = {
    bench: 'recs-serve', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded',
    query: QUERY, dataset: 'movielens-latest-small', items: seeded.items, events: seeded.events, profiles: seeded.ids.length,
    seedSeconds: Number(seedSeconds.toFixed(1)), training, servedModel: status, sampleReasons: recs.slice(0, 3).map((x) => x.reason),
    connections: CONNECTIONS, seconds: SECONDS, workers: WORKERS, historyCache: arg('history-cache', 10_000),
    ...(writes ? { writes } : {}),
    requestsPerSec: Math.round(r.requests.average), latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    non2xx: r.non2xx, errors: r.errors, target: 'p99 < 25 ms',
  };
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  // The default configuration writes recs-serve.json; variants get their own file.
  const variant = [
    WORKERS > 1 ? `workers-${WORKERS}` : '',
    arg('history-cache', 10_000) !== 10_000 ? `history-cache-${arg('history-cache', 10_000)}` : '',
    EVENTS_PER_SEC > 0 ? `events-${EVENTS_PER_SEC}` : '',
  ].filter(Boolean).join('-');
  fs.writeFileSync(path.join(ROOT, `bench/results/recs-serve${variant ? `-${variant}` : ''}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  await server.stop();
}
