// Child side of server-process.mjs: starts Rapport from the built packages.
require('reflect-metadata');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('../../packages/server/dist');

(async () => {
  const options = JSON.parse(process.env.BENCH_OPTIONS || '{}');
  const dataDir = path.join(os.tmpdir(), `rapport-bench-${process.pid}`, 'pgdata');
  const server = await startServer({
    database: process.env.DATABASE_URL
      ? { url: process.env.DATABASE_URL, poolSize: 20 }
      : { embedded: { dataDir, port: 55000 + (process.pid % 1000) }, poolSize: 20 },
    api: { rateLimitPerMinute: 1e9, maxComplexity: 1e6 },
    plugins: [],
    port: 0,
    ...options,
  });
  const keys = server.core.services.keys;
  const admin = await keys.create({ name: 'bench-admin', roles: ['admin'] });
  const ingest = await keys.create({ name: 'bench-ingest', roles: ['ingest'] });
  const pool = server.core.config.database.url ?? null;
  process.send({ url: server.url, databaseUrl: pool ?? (await embeddedUrl(server)), keys: { admin: admin.key, ingest: ingest.key } });
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

async function embeddedUrl(server) {
  const o = server.core.db.dataSource.options;
  return o.url;
}
