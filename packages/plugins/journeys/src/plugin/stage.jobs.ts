/**
 * Stage work that no delivered change starts: the backfill of a newly (re)defined journey (first the copy of the trait
 * values it added, stage.traits.ts, then the evaluation of everyone), and the re-check of rules with a time window.
 * Both run as jobs (`ctx.jobs`), in chunks of people, one transaction per chunk (evaluation with the stage lock held).
 */
import type { PluginContext } from '@rapport/core';
import { windowedConditions } from './journey-definition';
import { loadJourneys, markChecked, markEvaluated, sameDefinition, type StoredJourney } from './journey-definition.store';
import { journeyEventsSql, timeAtLeastSql, timeBeforeSql } from './journey-events.relation';
import { applyStages, lockStages } from './stage.service';
import { copyJourneyTraits, TRAIT_COPY_CHUNK } from './stage.traits';

/** People evaluated per transaction. */
export const STAGE_CHUNK = 1000;
/** Queue names. */
export const BACKFILL_JOB = 'stages-backfill';
export const RECHECK_JOB = 'stages-recheck';
/** Change log rows older than this are pruned by the re-check (consumers read within it). */
export const CHANGE_LOG_DAYS = 30;

/**
 * Evaluates a journey for everyone the plugin knows (people with events, traits or an identify, and those in the journey now),
 * chunk by chunk; then marks the version evaluated. Safe to run again: evaluation writes values, not increments.
 */
export async function backfillJourney(ctx: PluginContext, name: string): Promise<number> {
  const start = '00000000-0000-0000-0000-000000000000';
  let changes = 0;
  let after = start;
  // The definition being evaluated: each chunk is evaluated with the definition read under the stage lock, and a new
  // definition met on the way starts the pass again, so the version marked evaluated is the one everyone was evaluated with.
  let seen: StoredJourney | null = null;
  for (;;) {
    const ids = (await ctx.db.query<{ profile_id: string }>(
      `SELECT profile_id FROM (
         (SELECT DISTINCT profile_id FROM ${journeyEventsSql(ctx)} e WHERE profile_id > $2::uuid ORDER BY 1 LIMIT $3)
         UNION (SELECT DISTINCT profile_id FROM journeys_trait WHERE profile_id > $2::uuid ORDER BY 1 LIMIT $3)
         UNION (SELECT profile_id FROM journeys_identified WHERE profile_id > $2::uuid ORDER BY 1 LIMIT $3)
         UNION (SELECT profile_id FROM journeys_stage WHERE journey = $1 AND profile_id > $2::uuid ORDER BY 1 LIMIT $3)) x
        ORDER BY 1 LIMIT $3`,
      [name, after, STAGE_CHUNK],
    )).map((r) => r.profile_id);
    const done = await ctx.db.transaction(async (tx) => {
      // Held against erasure before the stage lock (the order an erasure takes them in): a person erased since the
      // read above gets no stage.
      const present = ids.length > 0 ? await ctx.profiles.hold(tx, ids) : new Set<string>();
      await lockStages(tx);
      const journey = (await loadJourneys(tx)).find((j) => j.name === name);
      if (!journey) return 'gone' as const;
      const restart = seen !== null && !sameDefinition(seen, journey);
      seen = journey;
      if (restart) return 'restart' as const;
      if (ids.length === 0) {
        await markEvaluated(tx, name, journey.version);
        return 'done' as const;
      }
      changes += await applyStages(tx, ctx, journey, ids.filter((id) => present.has(id)), 'definition');
      return 'next' as const;
    });
    if (done === 'gone' || done === 'done') return changes;
    after = done === 'restart' ? start : ids[ids.length - 1]!;
  }
}

/**
 * Re-checks rules with a time window. A windowed condition can only change when one of the person's events leaves
 * its window (an event entering one is delivered, and evaluated then), so only people with an event of such a
 * condition whose `ts + window` fell in (last check, now] are re-evaluated. Returns the number of changes.
 */
export async function recheckStages(ctx: PluginContext, nowMs = Date.now()): Promise<number> {
  let changes = 0;
  for (const journey of await loadJourneys(ctx.db)) {
    const windowed = windowedConditions(journey);
    if (windowed.length === 0) continue;
    const from = journey.checkedUntil;
    if (from >= nowMs) continue;
    const names = windowed.map((c) => c.event);
    const windows = windowed.map((c) => c.withinMs);
    const ids = (await ctx.db.query<{ profile_id: string }>(
      // ts > from - ms and ts <= now - ms, on `time` (checked in the index scan, not computed per row): ts > x is ts >= x + 1.
      `SELECT DISTINCT e.profile_id FROM unnest($1::text[], $2::bigint[]) AS w(name, ms)
         JOIN ${journeyEventsSql(ctx, names)} e ON e.name = w.name
          AND ${timeAtLeastSql('e', '$3::bigint - w.ms + 1')} AND ${timeBeforeSql('e', '$4::bigint - w.ms + 1')}`,
      [names, windows, from, nowMs],
    )).map((r) => r.profile_id);
    for (let i = 0; i < ids.length; i += STAGE_CHUNK) {
      const chunk = ids.slice(i, i + STAGE_CHUNK);
      const n = await ctx.db.transaction(async (tx) => {
        const present = await ctx.profiles.hold(tx, chunk);
        await lockStages(tx);
        // Redefined or deleted since this pass read it: its backfill evaluates everyone with the new version.
        const now = (await loadJourneys(tx)).find((j) => j.name === journey.name);
        if (!now || !sameDefinition(now, journey)) return null;
        return applyStages(tx, ctx, journey, chunk.filter((id) => present.has(id)), 'time', Math.max(nowMs, Date.now()));
      });
      if (n === null) break;
      changes += n;
    }
    await markChecked(ctx.db, journey.name, nowMs);
  }
  await ctx.db.query(`DELETE FROM journeys_stage_change WHERE changed_at < now() - make_interval(days => $1)`, [CHANGE_LOG_DAYS]);
  return changes;
}

/**
 * Registers the two job handlers and the re-check schedule (in `onInit`). The backfill of a journey copies the trait
 * values its definition added (`copyChunk` people per transaction), then evaluates everyone; a failed attempt is
 * retried after 2, 4, 8, ... seconds and resumes where the last one stopped.
 */
export async function registerStageJobs(ctx: PluginContext, recheckMs: number, copyChunk = TRAIT_COPY_CHUNK): Promise<void> {
  await ctx.jobs.work(BACKFILL_JOB, async (job) => {
    const name = (job.data as { journey?: unknown } | null)?.journey;
    if (typeof name !== 'string') return;
    await copyJourneyTraits(ctx, name, copyChunk);
    await backfillJourney(ctx, name);
  }, { retryLimit: 5, retryDelaySeconds: 2, expireInSeconds: 3600 });
  await ctx.jobs.work(RECHECK_JOB, async () => void (await recheckStages(ctx)), { retryLimit: 1, expireInSeconds: 3600 });
  await ctx.jobs.schedule(RECHECK_JOB, { every: recheckMs });
}
