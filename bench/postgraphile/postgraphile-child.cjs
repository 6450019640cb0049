// Runs PostGraphile 4 (library mode, production options) on DATABASE_URL and PORT, from the
// install under PGL_MODULES (see ../lib/postgraphile.mjs). Prints "ready <port>" when it listens.
const { createRequire } = require('node:module');
const http = require('node:http');
const path = require('node:path');

const req = createRequire(path.join(process.env.PGL_MODULES, 'noop.js'));
const { postgraphile } = req('postgraphile');
const { makePgSmartTagsFromFilePlugin } = req('postgraphile/plugins');
const { Pool } = req('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL || 20) });
const middleware = postgraphile(pool, 'public', {
  // Same shape as a production PostGraphile: no watch, no GraphiQL, no query log, a cached schema.
  disableQueryLog: true,
  graphiql: false,
  watchPg: false,
  retryOnInitFail: false,
  ignoreRBAC: true,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  disableDefaultMutations: true,
  enableQueryBatching: false,
  extendedErrors: [],
  appendPlugins: [makePgSmartTagsFromFilePlugin(path.join(__dirname, 'postgraphile.tags.json5'))],
});
const server = http.createServer(middleware);
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`ready ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
