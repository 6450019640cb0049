// Read throughput: requests per second and p99 latency of
//   profile(id) { traits identities events(first: 10) }
// under autocannon with 32 connections, against a server in its own process.
// Usage: npm run build && node bench/read.bench.mjs [--profiles 2000] [--seconds 15] [--connections 32]
import fs from 'node:fs';
import autocannon from 'autocannon';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const PROFILES = arg('profiles', 2000);
const SECONDS = arg('seconds', 15);
const CONNECTIONS = arg('connections', 32);
const QUERY = 'query($id: ID!) { profile(id: $id) { id traits identities { type value } events(first: 10) { nodes { type name timestamp properties } } } }';

/** Seeds profiles with an identify and 20 events each; returns their ids. */
export async function seed(server, profiles = PROFILES) {
  const ids = [];
  const auth = `Bearer ${server.keys.admin}`;
  for (let start = 0; start < profiles; start += 20) {
    const batch = [];
    for (let u = start; u < Math.min(start + 20, profiles); u++) {
      batch.push({ type: 'identify', userId: `reader-${u}`, traits: { email: `reader${u}@example.com`, name: `Reader ${u}`, plan: u % 2 ? 'pro' : 'free' } });
      for (let k = 0; k < 20; k++) batch.push({ type: 'track', userId: `reader-${u}`, event: k % 4 ? 'Product Viewed' : 'Order Completed', properties: { product_id: `p-${(u * 7 + k) % 500}`, price: 9.99 } });
    }
    const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch }) });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`seed failed: ${JSON.stringify(body)}`);
    for (const r of body.results) if (ids.at(-1) !== r.profileId) ids.push(r.profileId);
  }
  return [...new Set(ids)];
}

/** Runs autocannon over random profile ids; resolves with the summary. */
export function load(server, ids, key, { seconds = SECONDS, connections = CONNECTIONS, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url: `${server.url}/graphql`,
        connections,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
            setupRequest: (req) => ({ ...req, body: JSON.stringify({ query: QUERY, variables: { id: ids[Math.floor(Math.random() * ids.length)] } }) }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    inst.on('response', (_client, status) => {
      if (status !== 200) inst.stop();
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startServerProcess();
  try {
    const ids = await seed(server);
    // Check one answer before measuring: a fast error is not a read.
    const check = await fetch(`${server.url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` },
      body: JSON.stringify({ query: QUERY, variables: { id: ids[0] } }),
    }).then((r) => r.json());
    if (check.errors || check.data.profile.events.nodes.length !== 10) throw new Error(`bad answer: ${JSON.stringify(check)}`);
    await load(server, ids, server.keys.admin, { seconds: 3 }); // warm-up
    const r = await load(server, ids, server.keys.admin);
    const result = {
      bench: 'read', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded',
      query: QUERY, profiles: ids.length, connections: CONNECTIONS, seconds: SECONDS,
      requestsPerSec: Math.round(r.requests.average), latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
      non2xx: r.non2xx, errors: r.errors,
    };
    fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
    fs.writeFileSync(new URL('./results/read.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await server.stop();
  }
}
