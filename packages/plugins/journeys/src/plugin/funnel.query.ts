/**
 * The funnel in SQL over core's events, read in place (journey-events.relation.ts). One statement: the events of the steps (and exclusions) in the date
 * range, reduced to one row per person (how far they got, and when): set-wise with window functions for an ordered
 * funnel without exclusions or per-step windows (`setwiseFunnel`), otherwise grouped per person into arrays in time
 * order and walked by `journeys_funnel_person`; filtered by consent (`ctx.consent.sql`, on people, not events), then
 * answered per breakdown value as the people who entered and each later step's times to convert. `runFunnel` runs the statement in parts
 * (disjoint sets of people, by ranges of profile ids) on concurrent connections and merges their answers: the
 * per-person work (a sort and window passes) runs on one core in PostgreSQL, so parts are how one funnel uses more.
 */
import type { PluginContext } from '@rapport/core';
import type { FunnelSpec, PropertyEquals } from './funnel.definition';
import { binWidthMs, buildSeries, MAX_SERIES, type FunnelResult, type RawStep } from './funnel.result';
import { traitPick } from './funnel-breakdown';
import { journeyEventsSql, propSql, timeAtLeastSql, timeBeforeSql } from './journey-events.relation';
import { DEFAULT_FUNNEL_PARTS, PURPOSE } from './options';

class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function matches(p: Params, alias: string, event: string, where: PropertyEquals[]): string {
  const parts = [`${alias}.name = ${p.add(event)}`];
  for (const f of where) parts.push(`${propSql(alias, p.add(f.property))} = ${p.add(f.equals)}`);
  return `(${parts.join(' AND ')})`;
}

function bitmask(conds: string[]): string {
  return conds.length === 0 ? '0' : conds.map((c, i) => `(CASE WHEN ${c} THEN ${1 << i} ELSE 0 END)`).join(' | ');
}

/**
 * Options of {@link funnelSql}. `trait`: the host's guarded trait expression for a profile column (a trait breakdown
 * needs it). `people`: replaces the aggregates with a statement over `ok` (one row per counted person: `profile_id`,
 * `reached`, `times`, `bv`), given the parameter adder (funnelProfiles).
 */
export interface FunnelSqlOptions {
  trait?: (profileColumn: string) => string;
  people?: (add: (v: unknown) => string) => string;
  /**
   * Only the people of one part of `of` (a range of profile ids, {@link partBounds}): a funnel's parts are disjoint
   * sets of people, so their answers add up (counts and bins) or merge (times to convert).
   */
  part?: { index: number; of: number };
}

/** Window over one person's events in (ts, event id) order, up to the event before the current one. */
const BEFORE = 'PARTITION BY profile_id ORDER BY ts, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING';

/**
 * The ordered funnel without exclusions or per-step windows, set-wise: the same answer as journeys_funnel_person's
 * walk (the property tests hold both to the reference), from n - 1 window passes over the events in time order.
 *
 * The walk keeps, per step j, the run that reached j with the latest start. Before an event, that run is
 * `p_j` = the largest `[start, -event id of step 1, -time of step 2, -event id of step 2, ...]` over the events that
 * extended a run to step j: the latest start, and for one start the first events that got it there (the walk does not
 * replace a run by one with the same start). An event of step j extends `p_{j-1}` when it is within the window of
 * its start (events matching several steps use the state before them for each, as the walk tries the last step
 * first). A person reached the furthest j any event extended to; the times are those of the first such event (the
 * first run that got that far): the smallest `p_{j-1} || [time, event id]` over those events, `p` only growing.
 */
function setwiseFunnel(p: Params, n: number, windowMs: number, breakdown: boolean): string {
  const win = p.add(windowMs);
  const bit = (k: number) => `m & ${1 << (k - 1)} <> 0`;
  const step = (k: number) => (k === 1 ? bit(1) : `${bit(k)} AND ts - p${k - 1}[1] <= ${win}::bigint`);
  const levels: string[] = [`l1 AS (
      SELECT ev.*, max(CASE WHEN ${bit(1)} THEN ARRAY[ts, -event_id] END) OVER (${BEFORE}) AS p1 FROM ev WHERE m <> 0
    )`];
  for (let k = 2; k < n; k++) {
    levels.push(`l${k} AS (
      SELECT l${k - 1}.*, max(CASE WHEN ${step(k)} THEN p${k - 1} || ARRAY[-ts, -event_id] END) OVER (${BEFORE}) AS p${k} FROM l${k - 1}
    )`);
  }
  const first = (k: number) => `min(CASE WHEN ${step(k)} THEN ${k === 1 ? 'ARRAY[ts, event_id]' : `p${k - 1} || ARRAY[ts, event_id]`} END) AS f${k}`;
  // Step k's first run, f_k = [start, -e1, -t2, -e2, ..., -t(k-1), -e(k-1), t(k), e(k)] (f_1 = [t1, e1]).
  const times = (k: number) => (k === 1 ? 'ARRAY[f1[1]]'
    : `ARRAY[f${k}[1], ${Array.from({ length: k - 2 }, (_, i) => `-f${k}[${2 * (i + 2) - 1}], `).join('')}f${k}[${2 * k - 1}]]`);
  const desc = Array.from({ length: n }, (_, i) => n - i);
  const byReached = (expr: (k: number) => string) => `CASE ${desc.map((k) => `WHEN f${k} IS NOT NULL THEN ${expr(k)}`).join(' ')} END`;
  // The breakdown value's event: step 1's (first touch) or the last step's (last touch) of the counted run.
  const touch = breakdown
    ? `, ${byReached((k) => (k === 1 ? 'f1[2]' : `-f${k}[2]`))} AS first_touch, ${byReached((k) => `f${k}[${2 * k}]`)} AS last_touch`
    : '';
  return `${levels.join(', ')}, g AS (
      SELECT profile_id, ${byReached((k) => String(k))} AS reached, ${byReached(times)} AS times${touch}${breakdown ? ', bvs, eids' : ''}
        FROM (SELECT profile_id, ${Array.from({ length: n }, (_, i) => first(i + 1)).join(', ')}
                     ${breakdown ? ', array_agg(bv ORDER BY ts, event_id) AS bvs, array_agg(event_id ORDER BY ts, event_id) AS eids' : ''}
                FROM l${n - 1} GROUP BY profile_id) x
    )`;
}

/** The SQL and its parameters (exported for the bench and EXPLAIN). */
export function funnelSql(ctx: Pick<PluginContext, 'consent' | 'events'>, spec: FunnelSpec, opts: FunnelSqlOptions = {}): { sql: string; params: unknown[] } {
  const p = new Params();
  const n = spec.steps.length;
  // On `time`: checked inside the index scan, where a range on `ts` would compute it for every row.
  const range = (a: string) =>
    [spec.fromMs !== null ? timeAtLeastSql(a, p.add(spec.fromMs)) : null, spec.toMs !== null ? timeBeforeSql(a, p.add(spec.toMs)) : null]
      .filter(Boolean).join(' AND ') || 'true';
  const mask = bitmask(spec.steps.map((s) => matches(p, 'e', s.event, s.where)));
  const xmask = bitmask(spec.exclusions.map((x) => matches(p, 'e', x.event, x.where)));
  const names = [...new Set([...spec.steps.map((s) => s.event), ...spec.exclusions.map((x) => x.event)])];
  const strict = spec.mode === 'strict';
  // Strict funnels read every event of their people; the others only the events of their names.
  const events = journeyEventsSql(ctx, strict ? undefined : names);
  // Strict funnels see every event of the people who did the first step's event: any other event breaks a run.
  const who = strict
    ? `e.profile_id IN (SELECT f.profile_id FROM ${journeyEventsSql(ctx, [spec.steps[0]!.event])} f WHERE f.name = ${p.add(spec.steps[0]!.event)} AND ${range('f')})`
    : `e.name = ANY(${p.add(names)}::text[])`;
  const bv = spec.breakdown ? propSql('e', p.add(spec.breakdown.property)) : 'NULL::text';
  // A range of ids rather than a hash of them: the planner estimates a range from the column's histogram (a hash's
  // equality it takes for 1 row in 200, and then probes consent person by person where a hash join costs less).
  const bounds = opts.part ? partBounds(opts.part.index, opts.part.of) : { lo: null, hi: null };
  const part = [bounds.lo && `e.profile_id >= ${p.add(bounds.lo)}::uuid`, bounds.hi && `e.profile_id < ${p.add(bounds.hi)}::uuid`]
    .filter(Boolean).join(' AND ') || 'true';
  // The common case (ordered, no exclusions, no per-step windows) is computed set-wise with window functions, without
  // a per-person function call; the other modes walk each person's events with journeys_funnel_person.
  const setwise = spec.mode === 'ordered' && spec.exclusions.length === 0 && spec.steps.every((s) => s.withinMs === null);
  const perPerson = setwise ? setwiseFunnel(p, n, spec.windowMs, spec.breakdown !== null) : `g AS (
      SELECT profile_id, array_agg(ts ORDER BY ts, event_id) AS ts, array_agg(m ORDER BY ts, event_id) AS ms,
             array_agg(xm ORDER BY ts, event_id) AS xms, array_agg(bv ORDER BY ts, event_id) AS bvs,
             bool_and(m <= 1 AND xm = 0) AS only_first
        FROM ev ${strict ? '' : 'WHERE m <> 0 OR xm <> 0'} GROUP BY profile_id
        ${spec.mode === 'unordered' ? '' : 'HAVING bool_or(m & 1 <> 0)'}
    ), r AS (
      SELECT g.*, r.reached, r.times, r.idx
        FROM g CROSS JOIN LATERAL (
          -- Fast path: a person whose events match only step 1 (and no exclusion) reached step 1 at the first of them.
          SELECT 1 AS reached, ARRAY[g.ts[array_position(g.ms, 1)]] AS times, ARRAY[array_position(g.ms, 1)] AS idx WHERE g.only_first
          UNION ALL
          SELECT f.reached, f.times, f.idx FROM journeys_funnel_person(g.ts, g.ms, g.xms, ${p.add(n)}::int, ${p.add(spec.windowMs)}::bigint,
               ${p.add([null, ...spec.steps.slice(1).map((s) => s.withinMs)])}::bigint[],
               ${p.add(spec.exclusions.map((x) => x.fromStep))}::int[], ${p.add(spec.exclusions.map((x) => x.toStep))}::int[],
               ${p.add(spec.mode)}::text) f WHERE NOT g.only_first) r
    )`;
  // `g` below: one row per person with `reached`, `times` (of steps 1..reached) and the breakdown value's source.
  const pick = spec.breakdownTrait ? traitPick(spec.breakdownTrait, opts.trait)
    : !spec.breakdown ? 'NULL::text'
    : setwise ? `g.bvs[array_position(g.eids, g.${spec.breakdown.attribution === 'last_touch' ? 'last_touch' : 'first_touch'})]`
    : spec.breakdown.attribution === 'last_touch' ? 'g.bvs[g.idx[g.reached]]' : 'g.bvs[g.idx[1]]';
  // The set-wise passes carry each event's row through three window passes and a sort: only the columns they read.
  const cols = setwise ? (spec.breakdown ? `, ${bv} AS bv` : '') : `, ${xmask} AS xm, ${bv} AS bv`;
  const ks = Array.from({ length: n - 1 }, (_, i) => i + 2);
  const dur = (k: number) => `(o.times[${k}] - o.times[${k - 1}])`;
  // Without a breakdown there is one series: no GROUP BY, so no sort of the people by a constant.
  const grouped = spec.breakdown !== null || spec.breakdownTrait !== null;
  // Each step's times to convert, as one text of comma-separated ms (unordered): runFunnel merges the parts', counts
  // and bins them, and takes the exact percentiles.
  const durs = (k: number) => `string_agg(${dur(k)}::text, ',') FILTER (WHERE o.reached >= ${k})`;
  const sql = `
    WITH ev AS (
      SELECT e.profile_id, e.event_id, e.ts, ${mask} AS m${cols}
        FROM ${events} e WHERE ${who} AND ${range('e')} AND ${part}
    ), ${perPerson}, ok AS (
      SELECT g.profile_id, g.reached, g.times, ${pick} AS bv
        FROM ${setwise ? 'g' : 'r g'} WHERE g.reached > 0 AND ${ctx.consent.sql('g.profile_id', PURPOSE)}
    )${opts.people ? opts.people((v) => p.add(v)) : `
    -- One row per breakdown value: the people who entered, and each later step's times to convert (one per person
    -- who reached it: their number is the step's count, and runFunnel bins them and takes the percentiles).
    SELECT ${grouped ? 'o.bv' : 'NULL::text AS bv'}, count(*)::int AS n, ARRAY[NULL${ks.map((k) => `, ${durs(k)}`).join('')}]::text[] AS d
      FROM ok o ${grouped ? 'GROUP BY o.bv' : ''}`}`;
  return { sql, params: p.values };
}

const UUID_SPACE = 1n << 128n;

/** The uuid whose 128 bits are `n`. */
function uuidOf(n: bigint): string {
  const h = n.toString(16).padStart(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Part `index` of `of` as a range of profile ids `[lo, hi)` (null: unbounded): the uuid space cut in `of` equal
 * ranges, so the parts are disjoint and cover every id, and hold equal shares of people with random (v4) ids.
 */
export function partBounds(index: number, of: number): { lo: string | null; hi: string | null } {
  if (!Number.isInteger(of) || of < 1 || !Number.isInteger(index) || index < 0 || index >= of) throw new RangeError(`part ${index} of ${of}`);
  const cut = (i: number) => uuidOf((UUID_SPACE * BigInt(i)) / BigInt(of));
  return { lo: index === 0 ? null : cut(index), hi: index === of - 1 ? null : cut(index + 1) };
}

/** Step and exclusion event names no stored event has (the answer counts zero for them). */
export async function unknownEvents(ctx: PluginContext, names: string[]): Promise<string[]> {
  const rows = await ctx.db.query<{ name: string }>(
    `SELECT x.name FROM unnest($1::text[]) AS x(name) WHERE NOT EXISTS (SELECT 1 FROM ${journeyEventsSql(ctx, names)} e WHERE e.name = x.name)`,
    [[...new Set(names)]],
  );
  return rows.map((r) => r.name);
}

/** work_mem of the funnel's transaction. */
const FUNNEL_WORK_MEM = '64MB';

/**
 * The percentile PostgreSQL's `percentile_disc` answers: the first value (ascending) whose position reaches `f` of
 * the count (`sorted` ascending, not empty).
 */
export function percentileDisc(sorted: Float64Array, f: number): number {
  const row = Math.ceil(f * sorted.length);
  return sorted[Math.max(row, 1) - 1]!;
}

/**
 * The times to convert of texts of comma-separated integers (PostgreSQL's text of bigints, `string_agg`), in one
 * array: parsed by hand, as a `split` and `Number` per value cost a third of a funnel's time in Node at 1M events.
 */
export function parseTimes(texts: readonly string[]): Float64Array {
  let size = 0;
  for (const t of texts) size += t.length;
  const out = new Float64Array((size >> 1) + texts.length);
  let at = 0;
  for (const t of texts) {
    let v = 0;
    let sign = 1;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 44) {
        out[at++] = sign * v;
        v = 0;
        sign = 1;
      } else if (c === 45) sign = -1;
      else v = v * 10 + (c - 48);
    }
    out[at++] = sign * v;
  }
  return out.subarray(0, at);
}

/** Options of {@link runFunnel}: the guarded trait SQL of a trait breakdown, and how many parts to run in (default 2). */
export type RunFunnelOptions = Pick<FunnelSqlOptions, 'trait'> & { parts?: number };

/**
 * Runs a checked funnel and withholds every cell under `k`. The people are split into `parts` disjoint parts (ranges
 * of profile ids), each counted by its own statement on its own connection, concurrently; counts and bins
 * add up, and the times to convert of all parts are merged before the exact percentiles are taken, so the answer is
 * the one a single statement gives. Each part reads its own snapshot: an event stored while a funnel runs may be
 * counted for the people of one part and not yet for another's (each person's events are read at one instant).
 */
export async function runFunnel(ctx: PluginContext, spec: FunnelSpec, k: number, opts: RunFunnelOptions = {}): Promise<FunnelResult> {
  const of = Math.max(1, Math.floor(opts.parts ?? DEFAULT_FUNNEL_PARTS));
  type Row = { bv: string | null; n: number; d: (string | null)[] };
  const parts = await Promise.all(Array.from({ length: of }, (_, index) => {
    const { sql, params } = funnelSql(ctx, spec, { trait: opts.trait, part: { index, of } });
    return ctx.db.transaction(async (tx) => {
      // The per-person arrays and sorts fit in memory at a million events with 64 MB (the default 4 MB spills them
      // to disk). With parts, each is one core's work: parallel workers under a part would only compete with the
      // other parts for the same cores. SET LOCAL ends with the transaction, which only reads.
      await tx.query(`SET LOCAL work_mem = '${FUNNEL_WORK_MEM}'`);
      if (of > 1) await tx.query('SET LOCAL max_parallel_workers_per_gather = 0');
      return tx.query<Row>(sql, params);
    });
  }));
  // Per breakdown value: the people who entered, and each later step's times to convert, over all parts.
  const merged = new Map<string | null, { entered: number; texts: string[][] }>();
  for (const rows of parts) {
    for (const r of rows) {
      if (r.n === 0) continue;
      let m = merged.get(r.bv);
      if (!m) merged.set(r.bv, (m = { entered: 0, texts: spec.steps.map(() => []) }));
      m.entered += r.n;
      r.d.forEach((t, i) => t && m!.texts[i]!.push(t));
    }
  }
  const width = binWidthMs(spec.windowMs, spec.bins);
  const bySeries = new Map<string | null, RawStep[]>();
  for (const [bv, m] of merged) {
    bySeries.set(bv, spec.steps.map((_, i): RawStep => {
      if (i === 0) return { entered: m.entered, p50Ms: null, p90Ms: null, bins: new Map() };
      const ms = parseTimes(m.texts[i]!).sort();
      const counts = new Int32Array(spec.bins);
      for (const d of ms) counts[Math.min(spec.bins - 1, Math.floor(d / width))]!++;
      const bins = new Map<number, number>();
      counts.forEach((c, b) => c > 0 && bins.set(b, c));
      return ms.length === 0
        ? { entered: 0, p50Ms: null, p90Ms: null, bins }
        : { entered: ms.length, p50Ms: percentileDisc(ms, 0.5), p90Ms: percentileDisc(ms, 0.9), bins };
    }));
  }
  if (!spec.breakdown && !spec.breakdownTrait && bySeries.size === 0) bySeries.set(null, []);
  const ordered = [...bySeries].sort((a, b) => (b[1][0]?.entered ?? 0) - (a[1][0]?.entered ?? 0) || String(a[0]).localeCompare(String(b[0])));
  const events = spec.steps.map((s) => s.event);
  return {
    k,
    omittedBreakdownValues: Math.max(0, ordered.length - MAX_SERIES),
    series: ordered.slice(0, MAX_SERIES).map(([bv, raw]) => buildSeries(bv, events, spec.steps.map((_, i) => raw[i]), k, spec.windowMs, spec.bins)),
  };
}
