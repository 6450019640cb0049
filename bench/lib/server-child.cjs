// Child side of server-process.mjs: starts Rapport from the built packages and hands back its
// URL, database URL and keys (admin, ingest, app). BENCH_OPTIONS (JSON) may name extra config
// and `recommendations` options, which turn the recommendations plugin on.
require('reflect-metadata');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../../packages/server/dist');

(async () => {
  const { recommendations, ...options } = JSON.parse(process.env.BENCH_OPTIONS || '{}');
  const plugins = recommendations ? [require('../../packages/plugins/recommendations/dist').recommendationsPlugin(recommendations)] : [];
  const dataDir = path.join(os.tmpdir(), `rapport-bench-${process.pid}`, 'pgdata');
  const server = await startServer({
    database: process.env.DATABASE_URL
      ? { url: process.env.DATABASE_URL, poolSize: 20 }
      : { embedded: { dataDir, port: 55000 + (process.pid % 1000) }, poolSize: 20 },
    api: { rateLimitPerMinute: 1e9, maxComplexity: 1e6 },
    plugins,
    port: 0,
    ...options,
  });
  const keys = server.core.services.keys;
  const [admin, ingest, app] = await Promise.all(['admin', 'ingest', 'app'].map((role) => keys.create({ name: `bench-${role}`, roles: [role] })));
  process.send({ url: server.url, databaseUrl: server.core.db.dataSource.options.url, keys: { admin: admin.key, ingest: ingest.key, app: app.key } });
  process.on('message', async (m) => {
    if (m === 'stop') {
      await server.close();
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
      process.exit(0);
    }
  });
})().catch((err) => {
  process.send({ error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
