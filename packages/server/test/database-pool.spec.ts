import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The server's pool keeps the connections a burst opened (database.poolMin, default poolSize): a connection closed
// after a quiet moment costs a backend start, authentication and warm caches when the next burst opens it again.
// What PostgreSQL sees is the promise: its backends for the server's pool, before and after the pool's idle timeout.

/** Backends of the server's pool on the environment's database (the listener and probes have names of their own). */
async function poolBackends(env: TestEnvironment): Promise<number> {
  const [{ n }] = await env.sql<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rapport'",
  );
  return n;
}

/** Concurrent ingestion requests: each holds a connection for its transaction, so the pool opens several. */
async function burst(env: TestEnvironment, tag: string): Promise<void> {
  const results = await Promise.all(
    Array.from({ length: 24 }, (_, i) => env.post('/v1/track', { userId: `${tag}-${i}`, event: 'Burst', properties: { i } })),
  );
  for (const r of results) expect(r.status).toBe(200);
}

const idle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the database pool after a burst', () => {
  let fixed: TestEnvironment;
  let shrinking: TestEnvironment;

  beforeAll(async () => {
    fixed = await createTestEnvironment({ database: { poolSize: 6, idleTimeoutMs: 100 } });
    shrinking = await createTestEnvironment({ database: { poolSize: 6, poolMin: 1, idleTimeoutMs: 100 } });
  });
  afterAll(async () => {
    await fixed?.close();
    await shrinking?.close();
  });

  it('keeps every connection it opened by default, past the idle timeout', async () => {
    await burst(fixed, 'fixed');
    const opened = await poolBackends(fixed);
    expect(opened).toBeGreaterThanOrEqual(3);
    await idle(600);
    expect(await poolBackends(fixed)).toBe(opened);
    // And serves the next burst on them.
    await burst(fixed, 'fixed-again');
    expect(await poolBackends(fixed)).toBeGreaterThanOrEqual(opened);
  });

  it('closes the connections above poolMin once they sit idle longer than idleTimeoutMs', async () => {
    await burst(shrinking, 'shrinking');
    expect(await poolBackends(shrinking)).toBeGreaterThanOrEqual(3);
    await idle(600);
    expect(await poolBackends(shrinking)).toBeLessThanOrEqual(1);
    // Nothing is lost: the pool opens connections again for the next request.
    const again = await shrinking.post('/v1/track', { userId: 'shrinking-after', event: 'Burst' });
    expect(again.status).toBe(200);
  });
});
