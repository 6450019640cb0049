import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { Database, MAX_PREPARED_STATEMENTS } from '../../src/database/database';

// Statements run with `prepare` are kept as named prepared statements on each connection, for at most
// MAX_PREPARED_STATEMENTS texts (each costs backend memory for the connection's life, and callers choose the texts),
// and never when `preparedStatements` is off (a pooler that does not carry them across server connections). When the
// server loses one (a pooler handing the session another connection, DISCARD ALL), the statement still answers and
// preparing stops.
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

it('answers a statement the server no longer holds, then stops preparing', async () => {
  const warnings: string[] = [];
  const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg), debug() {}, info() {}, error() {} } as never;
  const db = new Database({ url: tdb.url, poolSize: 1, logger });
  open.push(db);
  await db.connect({ migrate: false });
  expect(await db.query('SELECT $1::int + 1 AS n', [1], { prepare: true })).toEqual([{ n: 2 }]);
  // Behind the driver's back, as a pooler in transaction mode or a session reset does.
  await db.query('DEALLOCATE ALL');
  expect(await db.query('SELECT $1::int + 1 AS n', [2], { prepare: true })).toEqual([{ n: 3 }]);
  expect(await db.query('SELECT $1::int + 1 AS n', [3], { prepare: true })).toEqual([{ n: 4 }]);
  expect(await kept(db)).toBe(0);
  expect(warnings.filter((w) => w.startsWith('prepared statements turned off'))).toHaveLength(1);
});
