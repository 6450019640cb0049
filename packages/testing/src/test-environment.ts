import { Client } from 'pg';
import type { RapportConfigInput } from '@rapport/core/internal';
import { startServer, type RapportServer, type ServerOptions } from '@rapport/server';
import { createTestDatabase, type TestDatabase } from './test-database';

/** An HTTP answer: status, parsed JSON body and headers. */
export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A real server on a fresh database, with keys of each built-in role and clients. */
export interface TestEnvironment {
  url: string;
  server: RapportServer;
  database: TestDatabase;
  keys: { admin: string; app: string; ingest: string };
  /** POSTs a GraphQL operation with a key (default: admin; `null` sends none). */
  graphql<T = any>(query: string, variables?: Record<string, unknown>, options?: { key?: string | null; headers?: Record<string, string> }): Promise<HttpResult<{ data?: T; errors?: any[] }>>;
  /** POSTs to a path; `raw` bodies are sent as they are. */
  post<T = any>(path: string, body: unknown, options?: { key?: string | null; basic?: boolean; contentType?: string; raw?: boolean; headers?: Record<string, string> }): Promise<HttpResult<T>>;
  /**
   * Runs one SQL statement on the environment's database and returns its rows, on a connection of the test's own
   * (not the server's pool: what the test reads or sets up directly, `ANALYZE`, `EXPLAIN`), opened on first use and
   * closed by {@link close}.
   */
  sql<T = any>(text: string, params?: unknown[]): Promise<T[]>;
  /** Counts SQL statements run while `work` runs. */
  countSql<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }>;
  /**
   * Starts another server on the same database (scale-out: several processes behind a load
   * balancer), with the same keys. Its `close` stops that server only; this one's `close` stops both.
   */
  addServer(config?: RapportConfigInput): Promise<TestEnvironment>;
  /**
   * Waits until every plugin's event delivery has caught up (the `deliveryStatus` query, as an
   * admin, shows no lag), after the writes a test made: delivery runs off the request path.
   */
  settle(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Starts Rapport on a database of its own (from the run's PostgreSQL) on a free port, in the
 * manner of Vendure's `createTestEnvironment`. `options` are the server's (tracing with an
 * in-memory exporter, for instance).
 */
export async function createTestEnvironment(config: RapportConfigInput = {}, options: ServerOptions = {}): Promise<TestEnvironment> {
  const database = await createTestDatabase();
  let server: RapportServer;
  try {
    server = await startServer({ ...config, database: { ...config.database, url: database.url }, port: 0 }, options);
  } catch (err) {
    await database.drop();
    throw err;
  }
  const keys = server.core.services.keys;
  const [admin, app, ingest] = await Promise.all([
    keys.create({ name: 'test-admin', roles: ['admin'] }),
    keys.create({ name: 'test-app', roles: ['app'] }),
    keys.create({ name: 'test-ingest', roles: ['ingest'] }),
  ]);
  return environmentOf(server, database, { admin: admin.key, app: app.key, ingest: ingest.key }, async () => database.drop());
}

function environmentOf(server: RapportServer, database: TestDatabase, keys: TestEnvironment['keys'], afterClose: () => Promise<void>): TestEnvironment {
  const others: TestEnvironment[] = [];
  let client: Promise<Client> | null = null;
  const env: TestEnvironment = {
    url: server.url,
    server,
    database,
    keys,
    async graphql(query, variables, options = {}) {
      const key = options.key === undefined ? keys.admin : options.key;
      const res = await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...options.headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: res.status, body: (await parse(res)) as never, headers: res.headers };
    },
    async post(path, body, options = {}) {
      const key = options.key === undefined ? keys.ingest : options.key;
      const auth = key ? (options.basic ? `Basic ${Buffer.from(`${key}:`).toString('base64')}` : `Bearer ${key}`) : undefined;
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': options.contentType ?? 'application/json', ...(auth ? { authorization: auth } : {}), ...options.headers },
        body: options.raw ? (body as string) : JSON.stringify(body),
      });
      return { status: res.status, body: (await parse(res)) as never, headers: res.headers };
    },
    async sql(text, params) {
      client ??= (async () => {
        const c = new Client({ connectionString: database.url });
        await c.connect();
        return c;
      })();
      return (await (await client).query(text, params)).rows;
    },
    async countSql(work) {
      const statements: string[] = [];
      const off = server.core.db.onQuery((sql) => statements.push(sql));
      try {
        return { result: await work(), statements };
      } finally {
        off();
      }
    },
    async settle(timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const r = await env.graphql<{ deliveryStatus: Array<{ consumer: string; lag: number }> }>('{ deliveryStatus { consumer lag } }');
        if (r.body.errors) throw new Error(`deliveryStatus failed: ${JSON.stringify(r.body.errors)}`);
        const lagging = r.body.data!.deliveryStatus.filter((s) => s.lag > 0);
        if (!lagging.length) return;
        if (Date.now() > end) throw new Error(`plugin delivery did not catch up in ${timeoutMs} ms: ${JSON.stringify(lagging)}`);
        await new Promise((res) => setTimeout(res, 25));
      }
    },
    async addServer(config = {}) {
      const other = await startServer({ ...config, database: { ...config.database, url: database.url }, port: 0 });
      const e = environmentOf(other, database, keys, async () => undefined);
      others.push(e);
      return e;
    },
    async close() {
      for (const o of others.splice(0)) await o.close();
      const own = client;
      client = null;
      if (own) await (await own).end();
      await server.close();
      await afterClose();
    },
  };
  return env;
}
