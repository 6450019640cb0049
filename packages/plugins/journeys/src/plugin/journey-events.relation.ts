/**
 * The events journeys answer from: core's stored events, read in place through the host's relation of every event
 * (`ctx.events.all()`), as the rows a funnel step matches. The plugin keeps no copy of them: merges, unmerges and
 * erasure are core's, already applied, and ingesting an event costs the plugin nothing unless a journey's rules read
 * it (docs/journeys.md#where-the-events-come-from).
 */
import type { PluginContext } from '@rapport/core';
import { MAX_PROPERTY_CHARS } from './options';

/** The step names of page and screen views (whatever the page's own name). */
export const VIEW_NAMES: Readonly<Record<string, string>> = { page: 'Page Viewed', screen: 'Screen Viewed' };
/** The event type of each view step name (`Page Viewed`: `page`). */
export const VIEW_TYPES: ReadonlyMap<string, string> = new Map(Object.entries(VIEW_NAMES).map(([type, name]) => [name, type]));

/**
 * A relation of the events a funnel step can match, with the columns the plugin's statements read: `event_id`,
 * `profile_id` (the profile the event is on now), `name` (a track event's name; `Page Viewed` and `Screen Viewed` for
 * page and screen views), `ts` (epoch milliseconds), `time` (the same instant as a timestamp: a range on it is
 * checked inside the index scan, and bounds a scan of one person's events; one on `ts` is computed per row; see
 * {@link timeAtLeastSql}) and `props` (the event's properties: read them with
 * {@link propSql}). One branch per type, so a condition on `name` reaches core's `(type, name, profile_id, timestamp)` index.
 * `names`: the only names the statement matches, when it knows them: the branches no such name can come from are left
 * out (a funnel of track events reads track events only, as one plain subquery).
 */
export function journeyEventsSql(ctx: Pick<PluginContext, 'events'>, names?: readonly string[]): string {
  const all = ctx.events.all();
  const branch = (name: string, where: string) =>
    `SELECT e.id AS event_id, e.profile_id, ${name} AS name, floor(extract(epoch FROM e.timestamp) * 1000)::bigint AS ts, e.timestamp AS time, e.properties AS props
       FROM ${all} e WHERE ${where}`;
  const views = Object.entries(VIEW_NAMES).filter(([, name]) => !names || names.includes(name));
  const branches = [
    ...(!names || names.some((n) => !VIEW_TYPES.has(n)) ? [branch('e.name', "e.type = 'track' AND e.name <> ''")] : []),
    ...views.map(([type, name]) => branch(`'${name}'::text`, `e.type = '${type}'`)),
  ];
  // One branch is a plain subquery, which the planner flattens into the statement, statistics and all (through a
  // UNION ALL it estimates a person's events from defaults, and joined consent per person where a hash join is faster).
  return `(${branches.length > 0 ? branches.join(' UNION ALL ') : branch("''::text", 'false')})`;
}

/**
 * A top-level property of the event row `alias` as text (`key`: a placeholder for the key), when its value is one
 * filters and breakdowns use: a string of at most {@link MAX_PROPERTY_CHARS} characters, a number or a boolean.
 * Null otherwise (absent, null, a list, an object, a longer string), so a long free text is never a breakdown value.
 */
export function propSql(alias: string, key: string): string {
  key = `${key}::text`;
  const v = `${alias}.props->${key}`;
  return `CASE jsonb_typeof(${v}) WHEN 'number' THEN ${alias}.props->>${key} WHEN 'boolean' THEN ${alias}.props->>${key}
    WHEN 'string' THEN CASE WHEN char_length(${alias}.props->>${key}) <= ${MAX_PROPERTY_CHARS} THEN ${alias}.props->>${key} END END`;
}

/**
 * `ts >= ms` as a condition on `time`, where an index can use it (`ms`: a placeholder or an expression of epoch
 * milliseconds, a whole number). Exact: `ts` is `floor(time in ms)`, so `ts >= ms` holds exactly when `time` is at or
 * after `ms` (and `ts < ms` exactly when it is before: negate this).
 */
export function timeAtLeastSql(alias: string, ms: string): string {
  return `${alias}.time >= 'epoch'::timestamptz + (${ms})::bigint * interval '1 millisecond'`;
}

/** `ts < ms` as a condition on `time` (see {@link timeAtLeastSql}). */
export function timeBeforeSql(alias: string, ms: string): string {
  return `${alias}.time < 'epoch'::timestamptz + (${ms})::bigint * interval '1 millisecond'`;
}
