// Child side of recs-serve.bench.mjs: starts Rapport from the built packages with the
// recommendations plugin (packages/plugins/recommendations/dist), and hands back URL, database URL and keys.
require('reflect-metadata');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../../packages/server/dist');
const { recommendationsPlugin } = require('../../packages/plugins/recommendations/dist');

(async () => {
  const options = JSON.parse(process.env.BENCH_OPTIONS || '{}');
  const dataDir = path.join(os.tmpdir(), `rapport-bench-recs-${process.pid}`, 'pgdata');
  const server = await startServer({
    database: process.env.DATABASE_URL
      ? { url: process.env.DATABASE_URL, poolSize: 20 }
      : { embedded: { dataDir, port: 56000 + (process.pid % 1000) }, poolSize: 20 },
    api: { rateLimitPerMinute: 1e9, maxComplexity: 1e6 },
    plugins: [recommendationsPlugin({ pollMs: 1000, ...(options.recommendations ?? {}) })],
    port: 0,
  });
  const keys = server.core.services.keys;
  const admin = await keys.create({ name: 'bench-admin', roles: ['admin'] });
  const app = await keys.create({ name: 'bench-app', roles: ['app'] });
  const databaseUrl = server.core.db.dataSource.options.url;
  process.send({ url: server.url, databaseUrl, keys: { admin: admin.key, app: app.key } });
  process.on('message', async (m) => {
    if (m === 'stop') {
      await server.close();
      require('node:fs').rmSync(path.dirname(dataDir), { recursive: true, force: true });
      process.exit(0);
    }
  });
})().catch((err) => {
  process.send({ error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
