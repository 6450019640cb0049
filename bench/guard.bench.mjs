// The field guard's cost on reads: the read benchmark's query, with no field policies, then with
// policies on the fields it reads (purposes, roles, consent conditions), side by side in one run,
// same server, same key, same data. Usage: npm run build && node bench/guard.bench.mjs
import fs from 'node:fs';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { seed, load } from './read.bench.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const gql = async (server, key, query, variables, headers = {}) => {
  const res = await fetch(`${server.url}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers }, body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};

const server = await startServerProcess();
try {
  const ids = await seed(server);
  const app = (await gql(server, server.keys.admin, `mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization"] }) { key } }`)).createApiKey.key;
  const headers = { 'x-rapport-purpose': 'personalization' };
  await load(server, ids, app, { seconds: 3, headers }); // warm-up
  const open = await load(server, ids, app, { seconds: SECONDS, headers });

  for (const field of ['traits.email', 'traits.name', 'traits.plan', 'events', 'identities']) {
    await gql(server, server.keys.admin, `mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, {
      i: { type: 'Profile', field, purposes: ['personalization'], roles: ['app'], pii: field === 'traits.email' },
    });
  }
  for (const id of ids) {
    await gql(server, server.keys.admin, `mutation($i: ConsentInput!) { setConsent(input: $i) { granted } }`, { i: { profileId: id, purpose: 'personalization', granted: true } });
  }
  const check = await gql(server, app, `query($id: ID!) { profile(id: $id) { traits events(first: 10) { nodes { name } } } }`, { id: ids[0] }, headers);
  if (!check.profile.traits.email || check.profile.events.nodes.length !== 10) throw new Error(`guarded read is not complete: ${JSON.stringify(check)}`);
  await load(server, ids, app, { seconds: 3, headers });
  const guarded = await load(server, ids, app, { seconds: SECONDS, headers });

  const fig = (r) => ({ requestsPerSec: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors });
  const result = {
    bench: 'guard', date: new Date().toISOString(), machine: machine(), profiles: ids.length, seconds: SECONDS, connections: 32,
    noPolicies: fig(open), withPolicies: fig(guarded),
    throughputRatio: +(guarded.requests.average / open.requests.average).toFixed(3),
    cost: `${(100 * (1 - guarded.requests.average / open.requests.average)).toFixed(1)}%`,
  };
  fs.writeFileSync(new URL('./results/guard.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  await server.stop();
}
