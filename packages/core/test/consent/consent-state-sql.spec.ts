import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@rapport/testing';
import { CONSENT_STATE_BITS, consentStateBitSql } from '../../src/consent/consent-sql';
import { consentStateOf, PARTIAL_GRANT_SOURCE } from '../../src/consent/legal-basis';

// The consent state a read's audit part computes in SQL (`read-audit.intent.ts`) is the state the guard
// computes in TypeScript, for every kind of record: none, grants with and without an expiry either side
// of now, refusals, and a merged profile's partial grant.
let tdb: TestDatabase;
let client: Client;

beforeAll(async () => {
  tdb = await createTestDatabase();
  client = new Client({ connectionString: tdb.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await tdb?.drop();
});

it('consentStateBitSql agrees with consentStateOf on every kind of consent record', async () => {
  const past = new Date(Date.now() - 86_400_000);
  const future = new Date(Date.now() + 86_400_000);
  const records: Array<{ granted: boolean; source: string; expiresAt: Date | null } | undefined> = [undefined];
  for (const granted of [true, false]) {
    for (const source of ['event', 'api', PARTIAL_GRANT_SOURCE]) {
      for (const expiresAt of [null, past, future]) records.push({ granted, source, expiresAt });
    }
  }
  const bit = consentStateBitSql('c');
  for (const r of records) {
    const rows = await client.query<{ bit: number }>(
      `SELECT ${bit} AS bit FROM (SELECT) AS one
         LEFT JOIN (SELECT $1::uuid AS profile_id, $2::boolean AS granted, $3::text AS source, $4::timestamptz AS expires_at) c ON $5`,
      [r ? '00000000-0000-4000-8000-000000000001' : null, r?.granted ?? null, r?.source ?? null, r?.expiresAt ?? null, r !== undefined],
    );
    expect(rows.rows[0]!.bit, JSON.stringify(r ?? 'no record')).toBe(CONSENT_STATE_BITS[consentStateOf(r)]);
  }
});

it('refuses an alias that is not a plain name', () => {
  expect(() => consentStateBitSql('c; DROP TABLE x')).toThrow(RangeError);
});
