// Durable event delivery off the request path: /v1/batch throughput with a plugin whose delivery
// sleeps 50 ms per batch of 100 events, against the same server without the plugin. Runs pairs
// interleaved (without, with) on fresh servers and reports each rate, the median ratio, and the
// slow plugin's lag when ingestion ended and when it caught up. Usage:
//   npm run build && node bench/delivery.bench.mjs [--events 20000] [--batch 200] [--concurrency 4] [--pairs 3] [--sleep 50]
// DATABASE_URL selects an external PostgreSQL; default: a fresh embedded one per server.
import { randomUUID } from 'node:crypto';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const EVENTS = arg('events', 20_000);
const BATCH = arg('batch', 200);
const CONCURRENCY = arg('concurrency', 4);
const PAIRS = arg('pairs', 3);
const SLEEP = arg('sleep', 50);

function batches() {
  const out = [];
  for (let i = 0; i < EVENTS; i += BATCH) {
    out.push(Array.from({ length: Math.min(BATCH, EVENTS - i) }, (_, k) => ({
      type: 'track', messageId: randomUUID(), userId: `user-${(i + k) % 5000}`, event: 'Product Viewed',
      properties: { product_id: `p-${(i + k) % 997}`, price: 9.99 }, context: { library: { name: 'bench' } },
    })));
  }
  return out;
}

async function pool(items, n, work) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

async function gql(server, query) {
  const res = await fetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${server.keys.admin}` }, body: JSON.stringify({ query }) });
  return (await res.json()).data;
}

async function once(withPlugin) {
  const server = await startServerProcess(withPlugin ? { slowPluginMs: SLEEP } : {});
  try {
    const auth = `Basic ${Buffer.from(`${server.keys.ingest}:`).toString('base64')}`;
    const work = batches();
    const t0 = performance.now();
    await pool(work, CONCURRENCY, async (batch) => {
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch }) });
      if (res.status !== 200) throw new Error(`batch failed: ${res.status} ${await res.text()}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    const result = { plugin: withPlugin, eventsPerSec: Math.round(EVENTS / seconds) };
    if (withPlugin) {
      const [at] = (await gql(server, '{ deliveryStatus { consumer lag delivered } }')).deliveryStatus;
      result.lagWhenIngestionEnded = at.lag;
      const t1 = performance.now();
      for (;;) {
        const [s] = (await gql(server, '{ deliveryStatus { lag delivered } }')).deliveryStatus;
        if (s.lag === 0 && s.delivered >= EVENTS) break;
        if (performance.now() - t1 > 600_000) throw new Error('the slow plugin did not catch up in 10 minutes');
        await new Promise((r) => setTimeout(r, 200));
      }
      result.catchUpSeconds = Math.round((performance.now() - t1) / 100) / 10;
    }
    return result;
  } finally {
    await server.stop();
  }
}

const runs = [];
for (let p = 0; p < PAIRS; p++) {
  const without = await once(false);
  const withSlow = await once(true);
  runs.push({ without, withSlow, ratio: Math.round((withSlow.eventsPerSec / without.eventsPerSec) * 1000) / 1000 });
  console.error(JSON.stringify(runs.at(-1)));
}
const ratios = runs.map((r) => r.ratio).sort((a, b) => a - b);
console.log(JSON.stringify({ bench: 'delivery', machine: machine(), events: EVENTS, batch: BATCH, concurrency: CONCURRENCY, sleepMsPerBatch: SLEEP, runs, medianRatio: ratios[Math.floor(ratios.length / 2)] }));
