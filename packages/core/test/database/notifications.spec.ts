import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { Database } from '../../src/database/database';

let tdb: TestDatabase;
let one: Database;
let two: Database;

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  tdb = await createTestDatabase();
  one = new Database({ url: tdb.url });
  two = new Database({ url: tdb.url });
  await Promise.all([one.connect({ migrate: false }), two.connect({ migrate: false })]);
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await tdb?.drop();
});

describe('LISTEN/NOTIFY between processes', () => {
  it('delivers a notification from one database handle to the listeners of another, on that channel only', async () => {
    const got: string[] = [];
    const other: string[] = [];
    await two.notifications.listen('rapport_test_a', (p) => got.push(p));
    await two.notifications.listen('rapport_test_b', (p) => other.push(p));
    expect(two.notifications.listening).toBe(true);
    await one.notifications.notify('rapport_test_a', 'hello');
    await until(() => got.length === 1);
    expect(got).toEqual(['hello']);
    expect(other).toEqual([]);
  });

  it('rejects bad channel names and payloads over the PostgreSQL limit', async () => {
    await expect(two.notifications.listen('bad-channel; DROP', () => undefined)).rejects.toThrow(/channel must match/);
    await expect(one.notifications.notify('rapport_test_a', 'x'.repeat(8000))).rejects.toThrow(/payload over 7900 bytes/);
  });

  it('when the listening connection dies: stops being trusted, resets subscribers, reconnects and delivers again', async () => {
    const got: string[] = [];
    let resets = 0;
    await two.notifications.listen('rapport_test_c', (p) => got.push(p), () => resets++);
    await one.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rapport-listen' AND datname = current_database()`);
    await until(() => !two.notifications.listening);
    expect(resets).toBeGreaterThanOrEqual(1);
    await until(() => two.notifications.listening, 10_000);
    expect(resets).toBeGreaterThanOrEqual(2); // once on loss, once back (messages in between are lost)
    await one.notifications.notify('rapport_test_c', 'again');
    await until(() => got.includes('again'));
  });
});
