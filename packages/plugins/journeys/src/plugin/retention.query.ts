/**
 * Retention and lifecycle in SQL over the plugin's own store, one statement each. A person's first start event is
 * their first ever in the store (first-time retention, PostHog's default); a person counts only if their consent allows
 * analytics (`ctx.consent.sql`, on people). Both read the `(name, ts) INCLUDE (profile_id, event_id)` index alone.
 */
import type { PluginContext } from '@rapport/core';
import { journeyEventsSql, timeAtLeastSql, timeBeforeSql } from './journey-events.relation';
import { PURPOSE } from './options';
import type { LifecycleSpec, RetentionSpec } from './retention.definition';
import { buildLifecycle, buildRetention, type LifecycleResult, type RetentionResult } from './retention.result';

/** The retention SQL and its parameters: rows (cohort, offset, n), offset 0 the cohort's size. */
export function retentionSql(ctx: Pick<PluginContext, 'consent' | 'events'>, s: RetentionSpec): { sql: string; params: unknown[] } {
  const end = s.fromMs + s.periods * s.periodMs;
  const sql = `
    WITH firsts AS (
      SELECT profile_id, min(ts) AS first FROM ${journeyEventsSql(ctx, [s.startEvent])} e WHERE name = $1 GROUP BY profile_id
    ), cohort AS (
      SELECT f.profile_id, ((f.first - $3::bigint) / $4::bigint)::int AS c
        FROM firsts f WHERE f.first >= $3::bigint AND f.first < $5::bigint AND ${ctx.consent.sql('f.profile_id', PURPOSE)}
    ), back AS (
      SELECT DISTINCT e.profile_id, ((e.ts - $3::bigint) / $4::bigint)::int AS p
        FROM ${journeyEventsSql(ctx, [s.returnEvent])} e WHERE e.name = $2 AND ${timeAtLeastSql('e', '$3::bigint')} AND ${timeBeforeSql('e', '$5::bigint')}
    )
    SELECT c, 0 AS j, count(*)::int AS n FROM cohort GROUP BY c
    UNION ALL
    SELECT c.c, b.p - c.c, count(*)::int FROM cohort c JOIN back b ON b.profile_id = c.profile_id AND b.p > c.c GROUP BY 1, 2`;
  return { sql, params: [s.startEvent, s.returnEvent, s.fromMs, s.periodMs, end] };
}

/** Runs a checked retention query and withholds every cell under `k`. */
export async function runRetention(ctx: PluginContext, s: RetentionSpec, k: number): Promise<RetentionResult> {
  const { sql, params } = retentionSql(ctx, s);
  const rows = await ctx.db.query<{ c: number; j: number; n: number }>(sql, params);
  const sizes: number[] = [];
  const returned = new Map<number, Map<number, number>>();
  for (const r of rows) {
    if (r.j === 0) sizes[r.c] = r.n;
    else {
      let m = returned.get(r.c);
      if (!m) returned.set(r.c, (m = new Map()));
      m.set(r.j, r.n);
    }
  }
  return buildRetention(s.fromMs, s.periodMs, s.periods, sizes, returned, k);
}

/**
 * The lifecycle SQL: per period p (and the one before `from`, p = -1, to know who was active just before), who did the
 * event. Active in p: new when their first ever such event is in p, returning when also active in p - 1, else
 * resurrecting; dormant in p: active in p - 1 and not in p.
 */
export function lifecycleSql(ctx: Pick<PluginContext, 'consent' | 'events'>, s: LifecycleSpec): { sql: string; params: unknown[] } {
  const events = journeyEventsSql(ctx, [s.event]);
  const sql = `
    WITH act AS (
      SELECT DISTINCT e.profile_id, CASE WHEN e.ts < $2::bigint THEN -1 ELSE ((e.ts - $2::bigint) / $3::bigint)::int END AS p
        FROM ${events} e WHERE e.name = $1 AND ${timeAtLeastSql('e', '$2::bigint - $3::bigint')} AND ${timeBeforeSql('e', '$2::bigint + $3::bigint * $4::int')}
    ), ok AS (
      SELECT a.profile_id, a.p FROM act a WHERE ${ctx.consent.sql('a.profile_id', PURPOSE)}
    ), firsts AS (
      SELECT e.profile_id, min(e.ts) AS first FROM ${events} e
       WHERE e.name = $1 AND e.profile_id IN (SELECT profile_id FROM ok) GROUP BY e.profile_id
    )
    SELECT a.p, CASE WHEN f.first >= $2::bigint + a.p::bigint * $3::bigint THEN 'new'
                     WHEN b.profile_id IS NOT NULL THEN 'returning' ELSE 'resurrecting' END AS status, count(*)::int AS n
      FROM ok a JOIN firsts f ON f.profile_id = a.profile_id
      LEFT JOIN ok b ON b.profile_id = a.profile_id AND b.p = a.p - 1
     WHERE a.p >= 0 GROUP BY 1, 2
    UNION ALL
    SELECT b.p + 1, 'dormant', count(*)::int
      FROM ok b LEFT JOIN ok a ON a.profile_id = b.profile_id AND a.p = b.p + 1
     WHERE a.profile_id IS NULL AND b.p + 1 < $4::int GROUP BY 1`;
  return { sql, params: [s.event, s.fromMs, s.periodMs, s.periods] };
}

/** Runs a checked lifecycle query and withholds every cell under `k`. */
export async function runLifecycle(ctx: PluginContext, s: LifecycleSpec, k: number): Promise<LifecycleResult> {
  const { sql, params } = lifecycleSql(ctx, s);
  const rows = await ctx.db.query<{ p: number; status: string; n: number }>(sql, params);
  const counts = new Map<number, Record<string, number>>();
  for (const r of rows) {
    let c = counts.get(r.p);
    if (!c) counts.set(r.p, (c = {}));
    c[r.status] = r.n;
  }
  return buildLifecycle(s.fromMs, s.periodMs, s.periods, counts, k);
}
