// From a text's event to the person's rollup: how long after `/v1/batch` answers does `Profile.sentiment` count the
// text? One server process with the sentiment plugin (fresh embedded PostgreSQL), 100 `Support Message Sent` events
// sent one at a time, each followed by polling `profileByIdentity { sentiment { texts } }` every 5 ms until it
// counts the new text. Reports the median, p95 and max of (rollup updated - batch sent).
// Usage: npx tsc -b && flock -x /tmp/rapport-bench.lock node bench/sentiment-latency.bench.mjs [--texts 100]
//        (writes bench/results/sentiment-latency.json)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const i = process.argv.indexOf('--texts');
const TEXTS = i > 0 ? Number(process.argv[i + 1]) : 100;
const SAMPLES = ['The app is not working and nobody answers.', 'Thanks, that fixed it!', 'Still waiting for a refund.', 'Great support, very quick.'];

const server = await startServerProcess({ sentiment: {} });
const gql = async (query, variables, key) => {
  const r = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
};
try {
  const { createApiKey } = await gql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["analytics"] }) { key } }`, {}, server.keys.admin);
  const reader = createApiKey.key;
  const latencies = [];
  for (let n = 1; n <= TEXTS; n++) {
    const t0 = performance.now();
    const r = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${server.keys.admin}:`).toString('base64')}` },
      body: JSON.stringify({ batch: [{ type: 'track', userId: 'latency-probe', event: 'Support Message Sent', properties: { body: SAMPLES[n % SAMPLES.length] } }] }),
    });
    if (r.status !== 200) throw new Error(`batch: ${r.status} ${await r.text()}`);
    for (;;) {
      const d = await gql(`{ profileByIdentity(type: "user_id", value: "latency-probe") { sentiment { texts } } }`, {}, reader);
      if ((d.profileByIdentity?.sentiment?.texts ?? 0) >= Math.min(n, 100)) break;
      if (performance.now() - t0 > 30_000) throw new Error(`text ${n} not in the rollup after 30 s`);
      await new Promise((res) => setTimeout(res, 5));
    }
    latencies.push(performance.now() - t0);
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 10) / 10;
  const result = { machine: machine(), texts: TEXTS, medianMs: q(0.5), p95Ms: q(0.95), maxMs: Math.round(latencies.at(-1) * 10) / 10 };
  fs.mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench/results/sentiment-latency.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
} finally {
  await server.stop();
}
