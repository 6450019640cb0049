/**
 * The SQL that decides which stage of a journey each of a set of people is in now: one statement per journey for any
 * number of people, with every value a parameter (nothing an admin typed reaches the SQL text).
 */
import type { ConditionSpec, JourneySpec } from './journey-definition';
import { propSql } from './journey-events.relation';

/** What the statement returns per person. */
export interface StageEvaluationRow {
  profile_id: string;
  /** The person's consent allows analytics (only then are they tracked). */
  allowed: boolean;
  /** 1-based index of the stage the rules put them in; 0 for none. */
  stage_index: number;
  /** Their stored stage before this evaluation, or null. */
  current: string | null;
}

/** The relation of the events with these names (`journeyEventsSql` for the plugin's context). */
export type EventsOf = (names: readonly string[]) => string;

class Params {
  readonly values: unknown[] = [];
  add(v: unknown, cast: string): string {
    this.values.push(v);
    return `$${this.values.length}::${cast}`;
  }
}

function eventFilter(p: Params, c: Extract<ConditionSpec, { kind: 'event' }>, now: () => string): string {
  const parts = ['e.profile_id = p.id', `e.name = ${p.add(c.event, 'text')}`];
  for (const f of c.where) parts.push(`${propSql('e', p.add(f.property, 'text'))} = ${p.add(f.equals, 'text')}`);
  // Within the window: less than withinMs before now (an event leaves it exactly withinMs after it happened).
  if (c.withinMs !== null) parts.push(`e.ts > ${now()} - ${p.add(c.withinMs, 'bigint')}`);
  return parts.join(' AND ');
}

/*
 * Every condition is a scalar subquery bounded by LIMIT, never `EXISTS`: PostgreSQL may turn an `EXISTS` in an
 * expression into a hashed subplan, which reads every event of the name (every profile, for the consent test) once
 * per statement. With fresh statistics it does not for a delivery batch, but right after a burst of events (a new
 * install, a backfill) the statistics say the tables are tiny and it did: the statement's time then grew with the
 * table, not with the batch (55 ms for 100 people at 17,500 events in bench/journeys-stages.bench.mjs). A scalar
 * subquery is evaluated per person on one of core's indexes of a person's events of a name, and only when the CASE reaches it.
 */
function traitConditionSql(p: Params, c: Extract<ConditionSpec, { kind: 'trait' }>): string {
  const latest = `FROM journeys_trait t WHERE t.profile_id = p.id AND t.key = ${p.add(c.trait, 'text')} ORDER BY t.ts DESC, t.event_id DESC LIMIT 1`;
  // The latest value as text: NULL when the latest identify set the trait to null (it is not set).
  const text = `(SELECT t.value #>> '{}' ${latest})`;
  if (c.equals !== null) return `coalesce(${text} = ${p.add(c.equals, 'text')}, false)`;
  if (c.notEquals != null) return `coalesce(${text} <> ${p.add(c.notEquals, 'text')}, false)`;
  if (c.in != null) return `coalesce(${text} = ANY(${p.add(c.in, 'text[]')}), false)`;
  if (c.exists != null) return `${text} IS ${c.exists ? 'NOT ' : ''}NULL`;
  // Numbers, and strings that are plain decimal numbers ("120", "-3.5").
  const num = `CASE WHEN jsonb_typeof(t.value) = 'number' OR (jsonb_typeof(t.value) = 'string' AND t.value #>> '{}' ~ '^-?[0-9]{1,30}(\\.[0-9]{1,30})?$')
                    THEN (t.value #>> '{}')::numeric END`;
  const bounds: string[] = [];
  if (c.greaterThan !== null) bounds.push(`x.n > ${p.add(c.greaterThan, 'numeric')}`);
  if (c.lessThan != null) bounds.push(`x.n < ${p.add(c.lessThan, 'numeric')}`);
  return `coalesce((SELECT ${bounds.join(' AND ')} FROM (SELECT ${num} AS n ${latest}) x), false)`;
}

/*
 * Every condition is a scalar subquery bounded by LIMIT, never `EXISTS`: PostgreSQL may turn an `EXISTS` in an
 * expression into a hashed subplan, which reads every event of the name (every profile, for the consent test) once
 * per statement. With fresh statistics it does not for a delivery batch, but right after a burst of events (a new
 * install, a backfill) the statistics say the tables are tiny and it did: the statement's time then grew with the
 * table, not with the batch (55 ms for 100 people at 17,500 events in bench/journeys-stages.bench.mjs). A scalar
 * subquery is evaluated per person on one of core's indexes of a person's events of a name, and only when the CASE reaches it. An `anyOf` is
 * an OR of its groups' ANDs: PostgreSQL stops at the first group that holds.
 */
function conditionSql(p: Params, c: ConditionSpec, now: () => string, events: EventsOf): string {
  if (c.kind === 'anyOf') {
    return c.groups.map((g) => `(${g.map((x) => `(${conditionSql(p, x, now, events)})`).join(' AND ')})`).join(' OR ');
  }
  if (c.kind === 'event') {
    const where = eventFilter(p, c, now);
    const rel = events([c.event]);
    if (c.absent) return `(SELECT true FROM ${rel} e WHERE ${where} LIMIT 1) IS NULL`;
    if (c.atLeast === 1) return `(SELECT true FROM ${rel} e WHERE ${where} LIMIT 1) IS NOT NULL`;
    const n = p.add(c.atLeast, 'int');
    return `(SELECT count(*) FROM (SELECT 1 FROM ${rel} e WHERE ${where} LIMIT ${n}) x) >= ${n}`;
  }
  return traitConditionSql(p, c);
}

/** Every bit set: evaluate every stage (a person with no input known, or whose stage cannot be kept). */
export const ALL_STAGES = -1;

/**
 * The statement evaluating `journey` for the people in `$1` (uuid[]) at `nowMs`. `consentSql` is the host's consent
 * expression for `p.id` and `analytics`. The last stage in order whose conditions all hold wins (CASE tries them from
 * the last), and people who do not allow analytics are reported with `allowed = false`. `events`: the plugin's
 * relation of the events of some names (journey-events.relation.ts).
 *
 * `$2` and `$3` (int[], one per person, bit `i` for the stage of index `i`, 1-based) say what can have changed since
 * the person was last evaluated (stage.increment.ts): `$2` the stages an input of theirs that changed can make hold,
 * `$3` the stages such a change can make stop holding. A person's stored stage whose bit in `$3` is clear still holds
 * (so no earlier stage is tried), and of the later stages only those with their bit set in `$2` are tried: the others
 * did not hold at the last evaluation, and nothing they read has changed. {@link ALL_STAGES} in `$3` evaluates every stage.
 */
export function stageEvaluationSql(journey: JourneySpec, nowMs: number, consentSql: string, events: EventsOf): { sql: string; params: unknown[] } {
  const p = new Params();
  const ids = p.add(null, 'uuid[]'); // $1 to $3: filled by the caller
  const touch = p.add(null, 'int[]');
  const brk = p.add(null, 'int[]');
  const name = p.add(journey.name, 'text');
  const names = p.add(journey.stages.map((s) => s.name), 'text[]');
  // Added the first time a windowed condition needs it (an unused parameter has no type PostgreSQL can infer).
  let nowParam: string | null = null;
  const now = () => (nowParam ??= p.add(nowMs, 'bigint'));
  // A stage is tried when it is after the kept stage and (nothing is kept, or an input it reads changed). AND and CASE
  // are evaluated in order, so a stage not tried reads nothing.
  const cases = journey.stages
    .map((s, i) => ({ i: i + 1, rule: s.when.map((c) => `(${conditionSql(p, c, now, events)})`).join(' AND ') }))
    .reverse()
    .map(({ i, rule }) => `WHEN k.keep < ${i} AND (k.keep = 0 OR (p.touch & ${2 ** i}) <> 0) AND ${rule} THEN ${i}`)
    .join('\n        ');
  // The consent test and the current stage are per person too: `OFFSET 0` keeps the consent subquery from being
  // pulled up (and its EXISTS hashed over every profile), and the stage lookup from becoming a join the planner could
  // hash over the whole table; the stage is found on the primary key. A stored stage is kept only when its name is
  // the definition's name at its index.
  const sql = `
    SELECT p.id AS profile_id, a.allowed, s.stage AS current,
      CASE WHEN NOT a.allowed THEN 0 ELSE greatest(k.keep, CASE
        ${cases}
        ELSE 0 END) END AS stage_index
      FROM unnest(${ids}, ${touch}, ${brk}) AS p(id, touch, brk)
      CROSS JOIN LATERAL (SELECT coalesce(${consentSql}, false) AS allowed OFFSET 0) a
      LEFT JOIN LATERAL (SELECT s.stage, s.stage_index FROM journeys_stage s WHERE s.journey = ${name} AND s.profile_id = p.id OFFSET 0) s ON true
      CROSS JOIN LATERAL (SELECT CASE WHEN s.stage_index BETWEEN 1 AND ${journey.stages.length} AND (p.brk & (1 << s.stage_index)) = 0
                                       AND s.stage = (${names})[s.stage_index] THEN s.stage_index ELSE 0 END AS keep) k`;
  return { sql, params: p.values };
}
