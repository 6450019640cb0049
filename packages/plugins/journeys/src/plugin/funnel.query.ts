/**
 * The funnel in SQL over the plugin's own store. One statement: the events of the steps (and exclusions) in the date
 * range, grouped per person into arrays in time order, walked by `journeys_funnel_person`, filtered by consent
 * (`ctx.consent.sql`, on people, not events), then counted per step with exact percentiles and histogram bins.
 */
import type { PluginContext } from '@rapport/core';
import type { FunnelSpec, PropertyEquals } from './funnel.definition';
import { binWidthMs, buildSeries, MAX_SERIES, type FunnelResult, type RawStep } from './funnel.result';
import { PURPOSE } from './options';

class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function matches(p: Params, alias: string, event: string, where: PropertyEquals[]): string {
  const parts = [`${alias}.name = ${p.add(event)}`];
  for (const f of where) parts.push(`${alias}.props->>${p.add(f.property)} = ${p.add(f.equals)}`);
  return `(${parts.join(' AND ')})`;
}

function bitmask(conds: string[]): string {
  return conds.length === 0 ? '0' : conds.map((c, i) => `(CASE WHEN ${c} THEN ${1 << i} ELSE 0 END)`).join(' | ');
}

/** The SQL and its parameters (exported for the bench and EXPLAIN). */
export function funnelSql(ctx: Pick<PluginContext, 'consent'>, spec: FunnelSpec): { sql: string; params: unknown[] } {
  const p = new Params();
  const n = spec.steps.length;
  const range = (a: string) =>
    [spec.fromMs !== null ? `${a}.ts >= ${p.add(spec.fromMs)}` : null, spec.toMs !== null ? `${a}.ts < ${p.add(spec.toMs)}` : null]
      .filter(Boolean).join(' AND ') || 'true';
  const mask = bitmask(spec.steps.map((s) => matches(p, 'e', s.event, s.where)));
  const xmask = bitmask(spec.exclusions.map((x) => matches(p, 'e', x.event, x.where)));
  const names = [...new Set([...spec.steps.map((s) => s.event), ...spec.exclusions.map((x) => x.event)])];
  const strict = spec.mode === 'strict';
  // Strict funnels see every event of the people who did the first step's event: any other event breaks a run.
  const who = strict
    ? `e.profile_id IN (SELECT f.profile_id FROM journeys_event f WHERE f.name = ${p.add(spec.steps[0]!.event)} AND ${range('f')})`
    : `e.name = ANY(${p.add(names)}::text[])`;
  const bv = spec.breakdown ? `e.props->>${p.add(spec.breakdown.property)}` : 'NULL::text';
  const pick = spec.breakdown?.attribution === 'last_touch' ? 'g.bvs[r.idx[r.reached]]' : 'g.bvs[r.idx[1]]';
  const sql = `
    WITH ev AS (
      SELECT e.profile_id, e.event_id, e.ts, ${mask} AS m, ${xmask} AS xm, ${bv} AS bv
        FROM journeys_event e WHERE ${who} AND ${range('e')}
    ), g AS (
      SELECT profile_id, array_agg(ts ORDER BY ts, event_id) AS ts, array_agg(m ORDER BY ts, event_id) AS ms,
             array_agg(xm ORDER BY ts, event_id) AS xms, array_agg(bv ORDER BY ts, event_id) AS bvs,
             bool_and(m <= 1 AND xm = 0) AS only_first
        FROM ev ${strict ? '' : 'WHERE m <> 0 OR xm <> 0'} GROUP BY profile_id
        ${spec.mode === 'unordered' ? '' : 'HAVING bool_or(m & 1 <> 0)'}
    ), ok AS (
      SELECT r.reached, r.times, ${pick} AS bv
        FROM g CROSS JOIN LATERAL (
          -- Fast path: a person whose events match only step 1 (and no exclusion) reached step 1 at the first of them.
          SELECT 1 AS reached, ARRAY[g.ts[array_position(g.ms, 1)]] AS times, ARRAY[array_position(g.ms, 1)] AS idx WHERE g.only_first
          UNION ALL
          SELECT f.reached, f.times, f.idx FROM journeys_funnel_person(g.ts, g.ms, g.xms, ${p.add(n)}::int, ${p.add(spec.windowMs)}::bigint,
               ${p.add([null, ...spec.steps.slice(1).map((s) => s.withinMs)])}::bigint[],
               ${p.add(spec.exclusions.map((x) => x.fromStep))}::int[], ${p.add(spec.exclusions.map((x) => x.toStep))}::int[],
               ${p.add(spec.mode)}::text) f WHERE NOT g.only_first) r
       WHERE r.reached > 0 AND ${ctx.consent.sql('g.profile_id', PURPOSE)}
    ), steps AS (
      SELECT o.bv, s.k, count(*)::int AS n,
             percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY o.times[s.k] - o.times[s.k - 1]) AS pct
        FROM ok o JOIN generate_series(1, ${p.add(n)}::int) s(k) ON o.reached >= s.k GROUP BY o.bv, s.k
    ), bins AS (
      SELECT o.bv, s.k, least(${p.add(spec.bins - 1)}::bigint, (o.times[s.k] - o.times[s.k - 1]) / ${p.add(binWidthMs(spec.windowMs, spec.bins))}::bigint) AS bin,
             count(*)::int AS n
        FROM ok o JOIN generate_series(2, ${p.add(n)}::int) s(k) ON o.reached >= s.k GROUP BY 1, 2, 3
    )
    SELECT bv, k, n, pct[1]::float8 AS p50, pct[2]::float8 AS p90, NULL::int AS bin FROM steps
    UNION ALL SELECT bv, k, n, NULL, NULL, bin::int FROM bins`;
  return { sql, params: p.values };
}

/** Step and exclusion event names the store has never seen (the answer counts zero for them). */
export async function unknownEvents(ctx: PluginContext, names: string[]): Promise<string[]> {
  const rows = await ctx.db.query<{ name: string }>(
    'SELECT x.name FROM unnest($1::text[]) AS x(name) WHERE NOT EXISTS (SELECT 1 FROM journeys_event e WHERE e.name = x.name)',
    [[...new Set(names)]],
  );
  return rows.map((r) => r.name);
}

/** work_mem of the funnel's transaction. */
const FUNNEL_WORK_MEM = '64MB';

/** Runs a checked funnel and withholds every cell under `k`. */
export async function runFunnel(ctx: PluginContext, spec: FunnelSpec, k: number): Promise<FunnelResult> {
  const { sql, params } = funnelSql(ctx, spec);
  type Row = { bv: string | null; k: number; n: number; p50: number | null; p90: number | null; bin: number | null };
  // The per-person arrays and the per-step sorts fit in memory at a million events with 64 MB (the default 4 MB
  // spills them to disk); SET LOCAL ends with the transaction, which only reads.
  const rows = await ctx.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL work_mem = '${FUNNEL_WORK_MEM}'`);
    return tx.query<Row>(sql, params);
  });
  const bySeries = new Map<string | null, RawStep[]>();
  for (const r of rows) {
    let raw = bySeries.get(r.bv);
    if (!raw) bySeries.set(r.bv, (raw = []));
    const step = (raw[r.k - 1] ??= { entered: 0, p50Ms: null, p90Ms: null, bins: new Map() });
    if (r.bin === null) Object.assign(step, { entered: r.n, p50Ms: r.p50, p90Ms: r.p90 });
    else step.bins.set(r.bin, r.n);
  }
  if (!spec.breakdown && bySeries.size === 0) bySeries.set(null, []);
  const ordered = [...bySeries].sort((a, b) => (b[1][0]?.entered ?? 0) - (a[1][0]?.entered ?? 0) || String(a[0]).localeCompare(String(b[0])));
  const events = spec.steps.map((s) => s.event);
  return {
    k,
    omittedBreakdownValues: Math.max(0, ordered.length - MAX_SERIES),
    series: ordered.slice(0, MAX_SERIES).map(([bv, raw]) => buildSeries(bv, events, spec.steps.map((_, i) => raw[i]), k, spec.windowMs, spec.bins)),
  };
}
