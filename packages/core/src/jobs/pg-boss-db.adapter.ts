import type PgBoss from 'pg-boss';
import type { Database, Queryable } from '../database/database';
import type { Logger } from '../logger/logger';

// pg-boss 10.4.2's statement builders (pinned version; the package has no `exports` map). Used only
// to recognise two of its statements by their exact text, below.
const plans = require('pg-boss/src/plans') as { completeJobs(schema: string): string; failJobsById(schema: string): string };

/** pg-boss's `db` for statements inside one of core's transactions (`fetch`, `send` with `{ db }`). */
export function pgBossTransactionDb(tx: Queryable): PgBoss.Db {
  return { executeSql: async (text, values) => ({ rows: await tx.query(text, values) }) };
}

/**
 * pg-boss's `db`: its statements run on core's pool through {@link Database.query}, under core's
 * statement and query timeouts (its statements are short: fetches skip locked rows, maintenance
 * handles about one interval's worth of jobs, and an advisory-lock wait cut by the timeout is an
 * `error` event, tried again at the next interval). Two kinds get special handling:
 *
 * - Its migrations and maintenance are one text `BEGIN; ...; COMMIT;`. Failing midway, such a text
 *   leaves its connection in an aborted transaction, which the pool would hand to the next caller:
 *   they run inside {@link Database.transaction}, whose ROLLBACK cleans up (the inner BEGIN and the
 *   outer COMMIT are only warnings).
 * - pg-boss's own worker (it moves due cron runs into their queues) completes and fails its jobs
 *   without awaiting: a rejection there would be unhandled. Those two statements never reject: the
 *   error is logged, the job stays active until it expires, and is then retried.
 */
export function pgBossDb(db: Database, schema: string, logger: Logger): PgBoss.Db {
  const completions = new Set([plans.completeJobs(schema), plans.failJobsById(schema)]);
  return {
    async executeSql(text: string, values?: unknown[]) {
      if (/^\s*BEGIN;/.test(text)) {
        await db.transaction((tx) => tx.query(text));
        return { rows: [] };
      }
      if (!completions.has(text)) return { rows: (await db.query(text, values)) ?? [] };
      try {
        return { rows: await db.query(text, values) };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        logger.warn({ queue: values?.[0], code: e.code, reason: e.message }, 'jobs: could not record the end of a job; it runs again after it expires');
        return { rows: [{ count: '0' }] };
      }
    },
  };
}
