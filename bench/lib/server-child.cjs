// Child side of server-process.mjs: starts Rapport from the built packages and hands back its
// URL, database URL and keys (admin, ingest, app). BENCH_OPTIONS (JSON) may name extra config,
// `recommendations` options (which turn the recommendations plugin on), `bench` (`{ fieldGuard: false }`) and `workers` (> 1 runs
// the server as a cluster, as `rapport start --workers n` does; this process is then its primary).
require('reflect-metadata');
const cluster = require('node:cluster');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, startCluster, runClusterWorker } = require('../../packages/server/dist');
const { createRapport, createLogger } = require('../../packages/core/dist/internal');

const { recommendations, sentiment, journeys, slowPluginMs, workers = 1, bench = {}, cpuProf, ...options } = JSON.parse(process.env.BENCH_OPTIONS || '{}');
const plugins = recommendations ? [require('../../packages/plugins/recommendations/dist').recommendationsPlugin(recommendations)] : [];
// `sentiment` options turn the sentiment plugin on (bench/sentiment-latency.bench.mjs).
if (sentiment) plugins.push(require('../../packages/plugins/sentiment/dist').sentimentPlugin(sentiment));
// `journeys` options turn the journeys plugin on (bench/ingest.bench.mjs --plugins journeys).
if (journeys) plugins.push(require('../../packages/plugins/journeys/dist').journeysPlugin(journeys));
// `slowPluginMs`: a plugin whose durable delivery sleeps that long per batch (bench/delivery.bench.mjs).
if (slowPluginMs !== undefined) {
  plugins.push({
    name: 'slow',
    delivery: { kinds: ['event'], batchSize: 100, handle: () => new Promise((r) => setTimeout(r, slowPluginMs)) },
  });
}
const dataDir = path.join(os.tmpdir(), `rapport-bench-${process.pid}`, 'pgdata');
const config = {
  database: process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, poolSize: 20 }
    : { embedded: { dataDir, port: 55000 + (process.pid % 1000) }, poolSize: 20 },
  api: { rateLimitPerMinute: 1e9, maxComplexity: 1e6 },
  plugins,
  port: 0,
  ...options,
};

// BENCH_ALLOC_PROF=<dir>: a sampling profile of every allocation made after start-up, collected or not (where the
// garbage collector's work comes from), written to <dir> on stop. `--heap-prof` keeps only what is still alive.
let allocProfile = null;
function startAllocProfile() {
  if (!process.env.BENCH_ALLOC_PROF) return;
  const { Session } = require('node:inspector');
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  allocProfile = () => new Promise((resolve) => session.post('HeapProfiler.stopSampling', (err, res) => {
    if (!err) {
      fs.mkdirSync(process.env.BENCH_ALLOC_PROF, { recursive: true });
      fs.writeFileSync(path.join(process.env.BENCH_ALLOC_PROF, `alloc-${process.pid}.heapprofile`), JSON.stringify(res.profile));
    }
    resolve();
  }));
}

async function createKeys(core) {
  const keys = core.services.keys;
  const [admin, ingest, app] = await Promise.all(['admin', 'ingest', 'app'].map((role) => keys.create({ name: `bench-${role}`, roles: [role] })));
  return { admin: admin.key, ingest: ingest.key, app: app.key };
}

async function single() {
  // `bench.fieldGuard: false`: a build without the field guard (bench/read-vs-postgraphile.bench.mjs prices it).
  const server = await startServer(config, { benchmarkWithoutFieldGuard: bench.fieldGuard === false });
  const keys = await createKeys(server.core);
  startAllocProfile();
  process.send({ url: server.url, databaseUrl: server.core.db.dataSource.options.url, keys });
  return async () => {
    if (allocProfile) await allocProfile();
    await server.close();
  };
}

async function primary() {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'warn' });
  const handle = await startCluster(config, workers, logger);
  const core = await createRapport({ ...config, logger, database: { ...config.database, url: handle.databaseUrl } }, { migrate: false });
  const keys = await createKeys(core);
  await core.close();
  process.send({ url: handle.url, databaseUrl: handle.databaseUrl, keys, workers });
  return () => handle.stop();
}

if (cluster.isWorker) {
  const logger = createLogger({ level: process.env.LOG_LEVEL || 'warn' });
  runClusterWorker(config, (c) => startServer(c, { migrate: false }), logger);
} else {
  (workers > 1 ? primary() : single())
    .then((stop) => {
      process.on('message', async (m) => {
        if (m === 'stop') {
          await stop();
          fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
          process.exit(0);
        }
      });
    })
    .catch((err) => {
      process.send({ error: String(err && err.stack ? err.stack : err) });
      process.exit(1);
    });
}
