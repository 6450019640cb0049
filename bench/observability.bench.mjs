// What the request log and tracing cost: read throughput (the read bench's profile(id) query) of a
// server in its own process, at RAPPORT_LOG_LEVEL=warn (no request lines), at info (one line per
// request, to /dev/null), and at info with tracing on (spans sent over OTLP/HTTP to a collector in
// this process that drops them). Metrics are always on, in all three.
// Usage: npm run build && flock -x /tmp/rapport-bench.lock node bench/observability.bench.mjs [--seconds 10] [--connections 16] [--profiles 300] > /dev/null
import fs from 'node:fs';
import http from 'node:http';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { load, seed } from './read.bench.mjs';
import { numberArg as arg } from './lib/args.mjs';

const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 16);
const PROFILES = arg('profiles', 300);

// A collector that accepts and drops spans, counting the requests.
let exports = 0;
const collector = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise((r) => collector.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${collector.address().port}/v1/traces`;

const scenarios = [
  { name: 'log warn', env: { RAPPORT_LOG_LEVEL: 'warn' } },
  { name: 'log info (request lines)', env: { RAPPORT_LOG_LEVEL: 'info' } },
  { name: 'log info + tracing', env: { RAPPORT_LOG_LEVEL: 'info', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint } },
];

// The server child writes its log to the stdout it inherits: run with `> /dev/null` (results go to stderr).
const results = [];
for (const s of scenarios) {
  for (const k of ['RAPPORT_LOG_LEVEL', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) delete process.env[k];
  Object.assign(process.env, s.env);
  const server = await startServerProcess();
  try {
    const ids = await seed(server, PROFILES);
    await load(server, ids, server.keys.admin, { seconds: 3, connections: CONNECTIONS }); // warm-up
    const before = exports;
    const r = await load(server, ids, server.keys.admin, { seconds: SECONDS, connections: CONNECTIONS });
    results.push({
      scenario: s.name, requestsPerSec: Math.round(r.requests.average),
      latencyMs: { p50: r.latency.p50, p99: r.latency.p99 }, non2xx: r.non2xx, errors: r.errors, otlpExports: exports - before,
    });
    process.stderr.write(`${s.name}: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms\n`);
  } finally {
    await server.stop();
  }
}
collector.close();
const result = { bench: 'observability', date: new Date().toISOString(), machine: machine(), connections: CONNECTIONS, seconds: SECONDS, profiles: PROFILES, results };
fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
fs.writeFileSync(new URL('./results/observability.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
process.stderr.write(JSON.stringify(result, null, 2) + '\n');
