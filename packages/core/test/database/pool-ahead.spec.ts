import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { Database } from '../../src/database/database';

// Database.ahead: work started with it (plugins' event delivery) takes the next free pooled connection before callers
// already waiting for one (requests), instead of waiting behind all of them.
let tdb: TestDatabase;
let db: Database;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = new Database({ url: tdb.url, poolSize: 1 });
  await db.connect({ migrate: false });
});
afterAll(async () => {
  await db?.close();
  await tdb?.drop();
});

it('gives the next free connection to work started with ahead(), before the callers already waiting', async () => {
  const order: string[] = [];
  let release: (() => void) | null = null;
  const held = db.transaction(async () => {
    await new Promise<void>((r) => (release = r));
  });
  while (!release) await new Promise((r) => setTimeout(r, 10));
  const waiting = ['a', 'b', 'c'].map((n) => db.query('SELECT 1').then(() => order.push(n)));
  // Inside ahead(), every checkout of the work (a query, then a transaction) goes to the front of the queue: the first
  // gets the held connection before a, b and c; the second, asked for once a had been handed it, comes before b and c.
  const first = db.ahead(async () => {
    await db.query('SELECT 1');
    order.push('ahead');
    await db.transaction(async (tx) => tx.query('SELECT 1'));
    order.push('ahead again');
  });
  (release as unknown as () => void)();
  await Promise.all([held, first, ...waiting]);
  expect(order).toEqual(['ahead', 'a', 'ahead again', 'b', 'c']);
});
