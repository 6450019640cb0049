/**
 * Keeps people's stages current: evaluates a journey for a set of people inside the caller's transaction and writes
 * what changed (current stage, history, change log), then announces the changes when the transaction commits.
 *
 * Every transaction that writes stages first takes one advisory lock (held until it commits), so stage writes never
 * interleave and the change log's ids commit in increasing order: a reader that resumes after the last id it saw
 * misses nothing.
 */
import type { PluginContext, SqlRunner } from '@rapport/core';
import type { JourneySpec } from './journey-definition';
import { PURPOSE } from './options';
import { journeyEventsSql } from './journey-events.relation';
import { ALL_STAGES, stageEvaluationSql, type StageEvaluationRow } from './stage.query';
import type { StageMasks } from './stage.increment';

/** Why a stage changed. */
export type StageChangeReason = 'event' | 'time' | 'consent' | 'merge' | 'definition' | 'deleted';

/** One change of a person's stage in a journey, as the change log and the `journeys.stages` extension point give it. */
export interface StageChange {
  /** Increasing in commit order; resume after the last one you handled. */
  id: string;
  journey: string;
  profileId: string;
  /** null: the person was in no stage of the journey. */
  fromStage: string | null;
  /** null: the person left the journey (rules no longer hold, consent refused, merged away, journey deleted). */
  toStage: string | null;
  reason: StageChangeReason;
  changedAt: Date;
}

/** The notify topic on which committed changes are announced (payload `<first id>-<last id>`). */
export const STAGE_TOPIC = 'stage_changes';
/** The advisory lock every stage-writing transaction holds until it commits. */
const STAGE_LOCK = 0x6a6f7572; // "jour"

/**
 * Takes the stage-writing lock for the rest of the transaction. Also turns PostgreSQL's JIT off for it: the evaluation
 * statement is cheap per person but its estimated cost crosses the JIT threshold, and compiling it took over a second
 * per batch (bench/journeys-stages.bench.mjs).
 */
export async function lockStages(tx: SqlRunner): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock($1), set_config('jit', 'off', true)", [STAGE_LOCK]);
}

interface ChangeRow { profileId: string; from: string | null; to: string | null; reason: StageChangeReason }

/** Announces logged changes (ids `first` to `last`) when the transaction commits, and counts them. */
async function announce(tx: SqlRunner, ctx: PluginContext, r: { first: string; last: string }, n: number): Promise<void> {
  await ctx.notify.publish(STAGE_TOPIC, `${r.first}-${r.last}`, tx);
  ctx.metrics.counter('stage_changes_total', 'Stage changes recorded (journeys plugin).').inc(n);
}

/** Appends changes to the log and announces them on commit. */
export async function logChanges(tx: SqlRunner, ctx: PluginContext, journey: string, rows: ChangeRow[]): Promise<void> {
  if (rows.length === 0) return;
  const [r] = await tx.query<{ first: string; last: string }>(
    `WITH ins AS (
       INSERT INTO journeys_stage_change (journey, profile_id, from_stage, to_stage, reason)
       SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) RETURNING id)
     SELECT min(id)::text AS first, max(id)::text AS last FROM ins`,
    [journey, rows.map((c) => c.profileId), rows.map((c) => c.from), rows.map((c) => c.to), rows.map((c) => c.reason)],
  );
  await announce(tx, ctx, r!, rows.length);
}

/**
 * Evaluates `journey` for `profileIds` now and applies the changes: a person who does not allow analytics is no longer
 * tracked (their stage and history in the journey are deleted); otherwise their current stage is the last stage
 * whose rule holds, or none. Call with the stage lock held ({@link lockStages}). Returns the number of changes.
 *
 * `changed`: for a person, the stages what changed since their last evaluation can change (their events' names and
 * the trait keys they set, stage.increment.ts): only those are evaluated. Only for a journey evaluated for everyone
 * in its current version; a person without an entry (or null) is evaluated in full.
 */
export async function applyStages(
  tx: SqlRunner, ctx: PluginContext, journey: JourneySpec, profileIds: readonly string[], reason: StageChangeReason, nowMs = Date.now(),
  changed?: ReadonlyMap<string, StageMasks | null>,
): Promise<number> {
  if (profileIds.length === 0) return 0;
  const { sql, params } = stageEvaluationSql(journey, nowMs, ctx.consent.sql('p.id', PURPOSE), (names) => journeyEventsSql(ctx, names));
  const ids = [...new Set(profileIds)];
  const masks = ids.map((id) => changed?.get(id) ?? { touch: ALL_STAGES, brk: ALL_STAGES });
  const fromStored = masks.reduce((n, m) => n + (m.brk === ALL_STAGES ? 0 : 1), 0);
  ctx.metrics.counter('stage_evaluations_total', 'People evaluated in a journey (journeys plugin).').inc(ids.length);
  if (fromStored > 0) {
    ctx.metrics.counter('stage_evaluations_incremental_total', 'People evaluated in a journey from their stored stage, only in the stages what changed can change (journeys plugin).').inc(fromStored);
  }
  params[0] = ids;
  params[1] = masks.map((m) => m.touch);
  params[2] = masks.map((m) => m.brk);
  const rows = await tx.query<StageEvaluationRow>(sql, params);
  const changes: (ChangeRow & { index: number })[] = [];
  const refused: string[] = [];
  for (const r of rows) {
    const to = r.allowed && r.stage_index > 0 ? journey.stages[r.stage_index - 1]!.name : null;
    if (!r.allowed) refused.push(r.profile_id);
    if (to === r.current) continue;
    changes.push({ profileId: r.profile_id, from: r.current, to, reason: r.allowed ? reason : 'consent', index: to === null ? 0 : r.stage_index });
  }
  if (refused.length > 0) {
    // Analytics refused: tracking stops, and what it recorded goes (a change below tells consumers they left).
    await tx.query('DELETE FROM journeys_stage_history WHERE journey = $1 AND profile_id = ANY($2::uuid[])', [journey.name, refused]);
    await tx.query('DELETE FROM journeys_stage_change WHERE journey = $1 AND profile_id = ANY($2::uuid[])', [journey.name, refused]);
  }
  if (changes.length === 0) return 0;
  // One statement for every write of the changes (one round trip, where five took their turn on a busy server): close
  // the open visits, drop the stage of those who leave, set it for those who enter, open their visits, and log the
  // changes in order. The parts see one snapshot, so the visits opened here are not the ones closed here.
  // Visits and stages are found by `profile_id = ANY(ids)`, not by joining the changes: right after a burst, statistics
  // say few visits are open and the planner joined every visit to every change (a second a batch at 28,000 visits);
  // a list is read from the indexes whatever the statistics say.
  const [r] = await tx.query<{ first: string; last: string }>(
    `WITH ch AS (
       SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::text[]) WITH ORDINALITY AS c(profile_id, from_stage, to_stage, to_index, reason, ord)),
     closed AS (
       UPDATE journeys_stage_history h SET left_at = now()
        WHERE h.journey = $1 AND h.profile_id = ANY($2::uuid[]) AND h.left_at IS NULL),
     gone AS (
       DELETE FROM journeys_stage s WHERE s.journey = $1 AND s.profile_id = ANY($7::uuid[])),
     now_in AS (
       INSERT INTO journeys_stage (journey, profile_id, stage, stage_index, entered_at)
       SELECT $1, profile_id, to_stage, to_index, now() FROM ch WHERE to_stage IS NOT NULL
       ON CONFLICT (journey, profile_id) DO UPDATE SET stage = EXCLUDED.stage, stage_index = EXCLUDED.stage_index, entered_at = EXCLUDED.entered_at),
     visits AS (
       INSERT INTO journeys_stage_history (journey, profile_id, stage, entered_at)
       SELECT $1, profile_id, to_stage, now() FROM ch WHERE to_stage IS NOT NULL ORDER BY ord),
     logged AS (
       INSERT INTO journeys_stage_change (journey, profile_id, from_stage, to_stage, reason)
       SELECT $1, profile_id, from_stage, to_stage, reason FROM ch ORDER BY ord RETURNING id)
     SELECT min(id)::text AS first, max(id)::text AS last FROM logged`,
    [journey.name, changes.map((c) => c.profileId), changes.map((c) => c.from), changes.map((c) => c.to), changes.map((c) => c.index), changes.map((c) => c.reason),
      changes.flatMap((c) => (c.to === null ? [c.profileId] : []))],
  );
  await announce(tx, ctx, r!, changes.length);
  return changes.length;
}

/**
 * A profile merged into another: it leaves every journey (a change to no stage, reason `merge`), its closed history
 * moves to the survivor, whose stage the caller then re-evaluates. Call with the stage lock held.
 */
export async function mergeStages(tx: SqlRunner, ctx: PluginContext, survivorId: string, mergedId: string): Promise<void> {
  const gone = await tx.query<{ journey: string; stage: string }>('DELETE FROM journeys_stage WHERE profile_id = $1 RETURNING journey, stage', [mergedId]);
  await tx.query('UPDATE journeys_stage_history SET left_at = coalesce(left_at, now()), profile_id = $1 WHERE profile_id = $2', [survivorId, mergedId]);
  for (const g of gone) await logChanges(tx, ctx, g.journey, [{ profileId: mergedId, from: g.stage, to: null, reason: 'merge' }]);
}

/** A journey deleted: everyone in it leaves (reason `deleted`), and its stages and history go. Call with the stage lock held. */
export async function deleteJourneyStages(tx: SqlRunner, ctx: PluginContext, journey: string): Promise<void> {
  const gone = await tx.query<{ profile_id: string; stage: string }>('DELETE FROM journeys_stage WHERE journey = $1 RETURNING profile_id, stage', [journey]);
  await tx.query('DELETE FROM journeys_stage_history WHERE journey = $1', [journey]);
  await logChanges(tx, ctx, journey, gone.map((g) => ({ profileId: g.profile_id, from: g.stage, to: null, reason: 'deleted' as const })));
}

/**
 * Reads changes after `afterId` (exclusive), oldest first: ordered by the column (a bare `ORDER BY id` would order by
 * the output's `id::text`, as text: '10' before '9'), optionally of one journey.
 */
export async function readChanges(db: SqlRunner, afterId: string | null, limit: number, toId?: string, journey?: string): Promise<StageChange[]> {
  const rows = await db.query<{ id: string; journey: string; profile_id: string; from_stage: string | null; to_stage: string | null; reason: StageChangeReason; changed_at: Date }>(
    `SELECT id::text, journey, profile_id, from_stage, to_stage, reason, changed_at FROM journeys_stage_change
      WHERE id > $1::bigint AND ($2::bigint IS NULL OR id <= $2::bigint) AND ($4::text IS NULL OR journey = $4::text)
      ORDER BY journeys_stage_change.id LIMIT $3`,
    [afterId ?? '0', toId ?? null, limit, journey ?? null],
  );
  return rows.map((r) => ({ id: r.id, journey: r.journey, profileId: r.profile_id, fromStage: r.from_stage, toStage: r.to_stage, reason: r.reason, changedAt: r.changed_at }));
}
