/**
 * Paths: what people do next after (or did before) an event, as the edges of a Sankey diagram. For each person who
 * allows analytics, their first occurrence of the event in the range anchors a sequence: the events after it (or before
 * it, nearest first), in the range, with consecutive repeats of one name collapsed into one step (PostHog's paths do
 * the same), cut at `depth` steps. An edge (level, source, target) counts the people whose sequence goes from source
 * to target at that level (level 1 starts at the anchor event). Edges counting 1 to k-1 people are withheld.
 */
import { ValidationError, type PluginContext } from '@rapport/core';
import { journeyEventsSql } from './journey-events.relation';
import { PURPOSE } from './options';

/** Most steps from the anchor. */
export const MAX_PATH_DEPTH = 5;
/** Most edges answered per level (the most common; the rest are counted in `omittedEdges`). */
export const MAX_EDGES_PER_LEVEL = 25;

export type PathDirection = 'next' | 'previous';

export interface PathsSpec {
  event: string;
  direction: PathDirection;
  depth: number;
  fromMs: number | null;
  toMs: number | null;
}

export interface PathEdge {
  level: number;
  source: string;
  target: string;
  /** People; null when withheld (then the edge is left out of the answer: see `suppressedEdges`). */
  people: number;
}

export interface PathsResult {
  k: number;
  /** People whose sequence was anchored (who did the event in the range); null when 1 to k-1. */
  anchored: number | null;
  edges: PathEdge[];
  /** Edges left out because they count 1 to k-1 people. */
  suppressedEdges: number;
  /** Edges left out past the {@link MAX_EDGES_PER_LEVEL} most common of a level. */
  omittedEdges: number;
}

/** Checks the arguments; a bad one throws a ValidationError naming it and the rule. */
export function checkPaths(a: { event: string; direction: PathDirection; depth: number; from: Date | null; to: Date | null }): PathsSpec {
  if (typeof a.event !== 'string' || !a.event.trim() || a.event.length > 200) throw new ValidationError('event', 'length', 'must be 1 to 200 characters, not blank');
  if (!Number.isInteger(a.depth) || a.depth < 1 || a.depth > MAX_PATH_DEPTH) {
    throw new ValidationError('depth', 'range', `must be 1 to ${MAX_PATH_DEPTH}, got ${a.depth}`);
  }
  const fromMs = a.from ? a.from.getTime() : null;
  const toMs = a.to ? a.to.getTime() : null;
  if (fromMs !== null && toMs !== null && toMs <= fromMs) throw new ValidationError('to', 'after', 'must be after `from`');
  return { event: a.event, direction: a.direction, depth: a.depth, fromMs, toMs };
}

/** The paths SQL and its parameters: rows (level, source, target, people), and one row of level 0 with the anchored count. */
export function pathsSql(ctx: Pick<PluginContext, 'consent' | 'events'>, s: PathsSpec): { sql: string; params: unknown[] } {
  const next = s.direction === 'next';
  const events = journeyEventsSql(ctx);
  const range = (a: string) => `($3::bigint IS NULL OR ${a}.ts >= $3::bigint) AND ($4::bigint IS NULL OR ${a}.ts < $4::bigint)`;
  const sql = `
    WITH anchor AS (
      SELECT DISTINCT ON (a.profile_id) a.profile_id, a.ts, a.event_id
        FROM ${journeyEventsSql(ctx, [s.event])} a WHERE a.name = $1 AND ${range('a')}
       ORDER BY a.profile_id, a.ts, a.event_id
    ), ok AS (
      SELECT * FROM anchor n WHERE ${ctx.consent.sql('n.profile_id', PURPOSE)}
    ), around AS (
      SELECT o.profile_id, e.name,
             lag(e.name, 1, $1) OVER w AS prev, row_number() OVER w AS ord
        FROM ok o JOIN ${events} e ON e.profile_id = o.profile_id
         AND (e.ts, e.event_id) ${next ? '>' : '<'} (o.ts, o.event_id) AND ${range('e')}
      WINDOW w AS (PARTITION BY o.profile_id ORDER BY e.ts ${next ? 'ASC' : 'DESC'}, e.event_id ${next ? 'ASC' : 'DESC'})
    ), steps AS (
      SELECT profile_id, prev AS source, name AS target,
             row_number() OVER (PARTITION BY profile_id ORDER BY ord) AS level
        FROM around WHERE name <> prev
    )
    SELECT 0 AS level, NULL::text AS source, NULL::text AS target, count(*)::int AS people FROM ok
    UNION ALL
    SELECT level::int, source, target, count(*)::int FROM steps WHERE level <= $2::int GROUP BY 1, 2, 3`;
  return { sql, params: [s.event, s.depth, s.fromMs, s.toMs] };
}

/** Runs checked paths and withholds edges under `k`. */
export async function runPaths(ctx: PluginContext, s: PathsSpec, k: number): Promise<PathsResult> {
  const { sql, params } = pathsSql(ctx, s);
  const rows = await ctx.db.query<{ level: number; source: string | null; target: string | null; people: number }>(sql, params);
  return buildPaths(rows, k);
}

/** Publishes raw edge counts: withholds those under k, keeps the most common per level (ties by name). */
export function buildPaths(rows: ReadonlyArray<{ level: number; source: string | null; target: string | null; people: number }>, k: number): PathsResult {
  const anchoredRaw = rows.find((r) => r.level === 0)?.people ?? 0;
  let suppressedEdges = 0;
  let omittedEdges = 0;
  const byLevel = new Map<number, PathEdge[]>();
  for (const r of rows) {
    if (r.level === 0) continue;
    if (r.people < k) {
      suppressedEdges++;
      continue;
    }
    let l = byLevel.get(r.level);
    if (!l) byLevel.set(r.level, (l = []));
    l.push({ level: r.level, source: r.source!, target: r.target!, people: r.people });
  }
  const edges: PathEdge[] = [];
  for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
    const l = byLevel.get(level)!.sort((a, b) => b.people - a.people || a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
    omittedEdges += Math.max(0, l.length - MAX_EDGES_PER_LEVEL);
    edges.push(...l.slice(0, MAX_EDGES_PER_LEVEL));
  }
  return { k, anchored: anchoredRaw > 0 && anchoredRaw < k ? null : anchoredRaw, edges, suppressedEdges, omittedEdges };
}
