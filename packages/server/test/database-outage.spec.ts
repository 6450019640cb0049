import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RapportServer } from '@rapport/server';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-postgres';

// The database taken away from under a running server: a private PostgreSQL cluster (never the
// one the test run shares) stopped and started again, then paused (SIGSTOP) and resumed.
let pg: PrivatePostgres;
let server: RapportServer;
let key = '';
let admin = '';

interface Answer { status: number; retryAfter: string | null; body: any; ms: number }

async function call(path: string, body?: unknown, bearer = key): Promise<Answer> {
  const t0 = Date.now();
  // A generous client-side bound: a request the server leaves hanging fails the test.
  const res = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(12_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: parsed, ms: Date.now() - t0 };
}

const track = (id: string) => call('/v1/track', { userId: `outage-${id}`, event: 'Outage Probe', messageId: `outage-${id}` });
const gql = () => call('/graphql', { query: '{ profileByIdentity(type: "user_id", value: "outage-before") { id } }' }, admin);

async function until(what: () => Promise<Answer>, ok: (a: Answer) => boolean, ms = 20_000): Promise<Answer> {
  const end = Date.now() + ms;
  for (;;) {
    const a = await what().catch((err: Error) => ({ status: -1, retryAfter: null, body: err.message, ms: 0 }));
    if (ok(a)) return a;
    if (Date.now() > end) throw new Error(`timed out; last answer ${JSON.stringify(a)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function expectUnavailable(a: Answer): void {
  expect(a.status).toBe(503);
  expect(Number(a.retryAfter)).toBeGreaterThan(0);
}

beforeAll(async () => {
  pg = await startPrivatePostgres();
  server = await startServer({
    database: { url: pg.url, acquireTimeoutMs: 1000, queryTimeoutMs: 2000, statementTimeoutMs: 1500 },
    port: 0,
  });
  key = (await server.core.services.keys.create({ name: 'outage-ingest', roles: ['ingest'] })).key;
  admin = (await server.core.services.keys.create({ name: 'outage-admin', roles: ['admin'] })).key;
  expect((await track('before')).status).toBe(200);
}, 120_000);

afterAll(async () => {
  pg?.resume();
  await server?.close().catch(() => undefined);
  await pg?.destroy();
});

describe('while PostgreSQL is down', () => {
  it('answers 503 with Retry-After on /v1, GraphQL and /health, stays up, and serves again once it is back', async () => {
    expect((await gql()).status).toBe(200); // the admin key is now cached: the GraphQL call below reaches its resolver
    await pg.stop();
    try {
      const ingest = await track('during-stop');
      expectUnavailable(ingest);
      expect(ingest.body.error.code).toBe('DATABASE_UNAVAILABLE');
      const health = await call('/health');
      expectUnavailable(health);
      expectUnavailable(await call('/readyz')); // out of the load balancer's rotation
      const live = await call('/livez'); // but alive: nothing should restart it
      expect(live.status).toBe(200);
      const graph = await gql();
      expectUnavailable(graph);
      expect(graph.body.errors[0].extensions.code).toBe('DATABASE_UNAVAILABLE');
    } finally {
      await pg.start();
    }
    await until(() => call('/health'), (a) => a.status === 200);
    expect((await call('/readyz')).status).toBe(200);
    expect((await track('after-stop')).status).toBe(200);
    expect((await gql()).status).toBe(200);
  }, 60_000);
});

describe('while PostgreSQL is paused (SIGSTOP)', () => {
  it('fails fast with 503 and Retry-After instead of hanging, and recovers after SIGCONT', async () => {
    pg.pause();
    try {
      const answers = await Promise.all([track('p1'), track('p2'), call('/health'), gql(), track('p3')]);
      for (const a of answers) expectUnavailable(a);
      // Once the database is known to be unreachable (a probe confirmed it), requests do not wait for a timeout.
      const later = await until(() => call('/health'), (a) => a.status === 503 && a.ms < 500, 10_000);
      expectUnavailable(later);
    } finally {
      pg.resume();
    }
    await until(() => call('/health'), (a) => a.status === 200);
    expect((await track('after-pause')).status).toBe(200);
  }, 60_000);
});
