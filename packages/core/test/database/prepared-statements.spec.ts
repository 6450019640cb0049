import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { Database, MAX_PREPARED_STATEMENTS } from '../../src/database/database';

// Statements run with `prepare` are kept as named prepared statements on each connection, for at most
// MAX_PREPARED_STATEMENTS texts (each costs backend memory for the connection's life, and callers choose the texts),
// and never when `preparedStatements` is off (a pooler that does not carry them across server connections).
let tdb: TestDatabase;
const open: Database[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(async () => {
  for (const db of open) await db.close();
  await tdb?.drop();
});

/** A database of one connection, so that every statement runs on the connection it then counts. */
async function oneConnection(preparedStatements?: boolean): Promise<Database> {
  const db = new Database({ url: tdb.url, poolSize: 1, preparedStatements });
  open.push(db);
  await db.connect({ migrate: false });
  return db;
}

const kept = async (db: Database) => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_prepared_statements'))[0].n);

it('keeps a statement asked to be prepared, once, and answers it as any statement', async () => {
  const db = await oneConnection();
  for (let i = 0; i < 3; i++) expect(await db.query('SELECT $1::int + 1 AS n', [i], { prepare: true })).toEqual([{ n: i + 1 }]);
  expect(await kept(db)).toBe(1);
  await db.query('SELECT $1::int + 2 AS n', [1]);
  expect(await kept(db)).toBe(1);
});

it(`keeps at most ${MAX_PREPARED_STATEMENTS} texts, and runs the others unprepared`, async () => {
  const db = await oneConnection();
  for (let i = 0; i < MAX_PREPARED_STATEMENTS + 8; i++) expect(await db.query(`SELECT ${i} AS n`, [], { prepare: true })).toEqual([{ n: i }]);
  expect(await kept(db)).toBe(MAX_PREPARED_STATEMENTS);
});

it('prepares nothing when preparedStatements is off', async () => {
  const db = await oneConnection(false);
  expect(await db.query('SELECT $1::int AS n', [7], { prepare: true })).toEqual([{ n: 7 }]);
  expect(await kept(db)).toBe(0);
});
