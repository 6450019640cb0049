import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { until } from './support/until';

// Database faults injected from an admin connection on the test's own database (the shared
// PostgreSQL is never stopped): a server backend terminated mid-transaction, and a table lock held
// longer than the configured statement timeout.
let env: TestEnvironment;
let admin: Client;

const track = (id: string) => ({ type: 'track', userId: `fault-user-${id}`, event: 'Fault Probe', messageId: `fault-${id}` });


/** Server backends of this database waiting for a lock (the request we hold up). */
async function waitingBackends(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rapport' AND wait_event_type = 'Lock'`,
  );
  return rows.map((r) => r.pid);
}

async function stored(messageIds: string[]): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM rapport_event WHERE message_id = ANY($1::text[])', [messageIds]);
  return rows[0].n;
}

beforeAll(async () => {
  env = await createTestEnvironment({ database: { statementTimeoutMs: 1500 } });
  admin = new Client({ connectionString: env.database.url, application_name: 'rapport-test-admin' });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end().catch(() => undefined);
  await env?.close();
});

describe('database faults, seen through HTTP', () => {
  it('a backend terminated mid-transaction: 503 with Retry-After, the server stays up, and the retry stores the batch once', async () => {
    const batch = [track('t1'), track('t2'), track('t3')];
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE rapport_event IN ACCESS EXCLUSIVE MODE');
    const pending = env.post('/v1/batch', { batch });
    const [pid] = await until(waitingBackends, (p) => p.length > 0);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.query('ROLLBACK');

    const res = await pending;
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.body.error.code).toBe('DATABASE_UNAVAILABLE');

    // Still up, and the SDK's retry lands once.
    expect((await until(() => fetch(`${env.url}/health`).then((r) => r.status), (s) => s === 200)));
    const retry = await env.post('/v1/batch', { batch });
    expect(retry.status).toBe(200);
    expect(await stored(batch.map((m) => m.messageId))).toBe(3);
    const again = await env.post('/v1/batch', { batch });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 3 });
  });

  it('every server connection terminated at once, under load: no 500, no crash, nothing acknowledged is lost', async () => {
    const acked: string[] = [];
    const statuses: number[] = [];
    let n = 0;
    const sender = async () => {
      for (let i = 0; i < 15; i++) {
        const batch = Array.from({ length: 20 }, () => track(`load-${n++}`));
        const r = await env.post('/v1/batch', { batch });
        statuses.push(r.status);
        if (r.status === 200) acked.push(...batch.map((m) => m.messageId));
        else expect(r.headers.get('retry-after')).toBeTruthy();
      }
    };
    const killer = async () => {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 60));
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rapport'`);
      }
    };
    await Promise.all([sender(), sender(), sender(), killer()]);
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(await stored(acked)).toBe(acked.length);
    expect((await fetch(`${env.url}/health`)).status).toBe(200);
  });

  it('a lock held longer than the statement timeout: 503 with Retry-After, not a hung request', async () => {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE rapport_event IN ACCESS EXCLUSIVE MODE');
    try {
      const res = await env.post('/v1/track', track('locked'));
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body.error.code).toBe('DATABASE_UNAVAILABLE');
      // /health does not need the table, and answers meanwhile.
      expect((await fetch(`${env.url}/health`)).status).toBe(200);
    } finally {
      await admin.query('ROLLBACK');
    }
    expect((await env.post('/v1/track', track('locked'))).status).toBe(200);
  }, 20_000);
});
