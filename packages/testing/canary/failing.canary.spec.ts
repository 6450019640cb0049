import { inject, it, expect } from 'vitest';
import { Client } from 'pg';

/**
 * The build's canary. `.ci/run` runs this file alone (`RAPPORT_CANARY=1 npm test`), through the same
 * command, configuration and global setup (a real PostgreSQL) as the suite, and fails unless the run
 * exits non-zero: a failing test must fail the build. It is not part of the normal suite.
 */
it('reaches the run\'s PostgreSQL (the global setup ran)', async () => {
  const c = new Client({ connectionString: inject('pgAdminUrl') });
  await c.connect();
  try {
    const { rows } = await c.query<{ one: number }>('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
  } finally {
    await c.end();
  }
});

it('fails on purpose', () => {
  expect(1).toBe(2);
});
