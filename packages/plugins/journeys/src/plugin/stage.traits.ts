/**
 * The trait copy of a journey definition. The plugin keeps only the trait keys some journey reads, from identify
 * events as they are delivered; a definition that starts naming a key would leave everyone identified earlier without
 * a value. So their current values are copied from the host, for everyone the plugin knows.
 *
 * `defineJourney` only checks that the plugin may read each added key for `analytics` (`ctx.traits.check`, before
 * anything is written) and records the copy (`journeys_trait_copy`). The `stages-backfill` job then copies the values
 * in chunks of people (`ctx.traits.read`: the host's field policies, each person's consent for analytics, audited with
 * the plugin as the actor), one transaction per chunk that also moves the copy's cursor, so a crash resumes after the
 * last chunk written; then it evaluates everyone against the journey.
 */
import { RapportError, type PluginContext, type SqlRunner } from '@rapport/core';
import type { RequestContext } from '@rapport/schema';
import type { JourneySpec } from './journey-definition';
import { traitKeysOf } from './journey-definition';
import { loadJourneys } from './journey-definition.store';
import { journeyEventsSql } from './journey-events.relation';
import { PURPOSE } from './options';
import { loadCopy, startCopy, type TraitCopy } from './trait-copy.store';

/** People whose values one transaction of the copy writes, unless the `traitCopyChunk` option says otherwise. */
export const TRAIT_COPY_CHUNK = 5000;
/** Longest error kept on a copy, in characters. */
const MAX_ERROR_CHARS = 500;

/**
 * The trait keys `spec` names that none of `stored` does, each with the field path of the first condition naming it
 * (`input.stages[4].when[0].anyOf[1].when[0].trait`), for errors.
 */
export function addedTraitKeys(spec: JourneySpec, stored: readonly JourneySpec[], prefix = 'input'): Map<string, string> {
  const kept = traitKeysOf(stored);
  const added = new Map<string, string>();
  const visit = (c: JourneySpec['stages'][number]['when'][number], field: string) => {
    if (c.kind === 'anyOf') c.groups.forEach((g, k) => g.forEach((x, l) => visit(x, `${field}.anyOf[${k}].when[${l}]`)));
    else if (c.kind === 'trait' && !kept.has(c.trait) && !added.has(c.trait)) added.set(c.trait, `${field}.trait`);
  };
  spec.stages.forEach((s, i) => s.when.forEach((c, j) => visit(c, `${prefix}.stages[${i}].when[${j}]`)));
  return added;
}

/**
 * Checks every trait key a journey being defined names (key to the field of the first condition naming it), in the
 * definition's transaction and before anything is written: each must be readable by the plugin for analytics now, so
 * a definition cannot lean on a key an admin has since restricted, even one other journeys already name. Then plans
 * the copy of the keys no journey named before (`added`): the copy itself runs in the `stages-backfill` job
 * ({@link copyJourneyTraits}), its rows timestamped `nowMs` (an identify event after the definition wins). Returns the
 * keys to copy.
 *
 * A dotted key (which the host does not read) is not checked nor copied, with a warning `TRAIT_NOT_COPIED` on its field
 * when it is added.
 *
 * @throws RapportError FORBIDDEN naming the condition's `trait` field, with the host's rule (`default`, `role`,
 *   `purpose`) and reason.
 */
export async function planTraitCopy(
  tx: SqlRunner, ctx: PluginContext, request: Pick<RequestContext, 'warn'>, journey: string,
  named: ReadonlyMap<string, string>, added: ReadonlyMap<string, string>, nowMs = Date.now(),
): Promise<string[]> {
  for (const [key, field] of named) {
    // The host reads top-level keys without dots only.
    if (key.includes('.')) continue;
    try {
      await ctx.traits.check([key], PURPOSE);
    } catch (err) {
      if (!(err instanceof RapportError)) throw err;
      throw new RapportError(err.code, `${field}: names the trait ${JSON.stringify(key.slice(0, 80))}, which journeys read for ${PURPOSE}: ${err.message}`, field, err.rule);
    }
  }
  const keys: string[] = [];
  for (const [key, field] of added) {
    if (key.includes('.')) {
      request.warn({ code: 'TRAIT_NOT_COPIED', field, rule: 'topLevel', message: `the current values of ${JSON.stringify(key.slice(0, 80))} were not copied: the host reads trait keys without dots only; people are placed by it from their next identify` });
      continue;
    }
    keys.push(key);
  }
  if (keys.length > 0) await startCopy(tx, journey, keys, nowMs);
  return keys;
}

/**
 * The people the plugin knows: those with events a step can match, kept traits, an identify delivered, or a stage.
 * Relations with a `profile_id` (the first: core's events, journey-events.relation.ts).
 */
const knownIn = (ctx: Pick<PluginContext, 'events'>) => [journeyEventsSql(ctx), 'journeys_trait', 'journeys_identified', 'journeys_stage'];

/** The people the plugin knows ({@link knownIn}) after `after`, in id order: each relation read from its profile index. */
async function knownPeopleAfter(ctx: PluginContext, after: string, limit: number): Promise<string[]> {
  const rows = await ctx.db.query<{ profile_id: string }>(
    `SELECT profile_id FROM (${knownIn(ctx).map((t) => `(SELECT DISTINCT profile_id FROM ${t} k WHERE profile_id > $1::uuid ORDER BY 1 LIMIT $2)`).join(' UNION ')}) x
      ORDER BY 1 LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => r.profile_id);
}

/** Counts the people the plugin knows, once per copy (a scan of the event store: allowed more than a statement's usual time). */
async function countKnownPeople(ctx: PluginContext, journey: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    await tx.query("SELECT set_config('statement_timeout', '600s', true)");
    await tx.query(
      `UPDATE journeys_trait_copy SET total = (SELECT count(*)::int FROM (${knownIn(ctx).map((t) => `SELECT profile_id FROM ${t} k`).join(' UNION ')}) k)
        WHERE journey = $1 AND total IS NULL`,
      [journey],
    );
  });
}

const sameKeys = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** Writes one chunk's values and moves the cursor past it, unless the copy moved meanwhile. Returns values written, or null. */
async function writeChunk(ctx: PluginContext, seen: TraitCopy, ids: string[], values: Map<string, Record<string, unknown>>): Promise<number | null> {
  const rows: { id: string; key: string; value: string }[] = [];
  for (const id of ids) {
    for (const [key, value] of Object.entries(values.get(id) ?? {})) if (value !== null && value !== undefined) rows.push({ id, key, value: JSON.stringify(value) });
  }
  return ctx.db.transaction(async (tx) => {
    // Held against erasure: the consent check below then sees an erasure that was under way as committed, and one that
    // starts now waits for this chunk and removes it.
    await ctx.profiles.hold(tx, ids);
    const now = await loadCopy(tx, seen.journey, true);
    // Another run (a second server, or a redefinition that restarted the copy) moved it: this chunk is not ours to write.
    if (!now || now.state !== 'copying' || now.after !== seen.after || !sameKeys(now.keys, seen.keys)) return null;
    const [r] = await tx.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO journeys_trait (event_id, key, profile_id, origin_profile_id, value, ts)
         SELECT -nextval('journeys_trait_snapshot_seq'), r.key, r.id, r.id, r.value, $4::bigint
           FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS r(id, key, value)
          -- Read again as it is written: a person erased or whose consent was withdrawn since the read gets nothing.
          WHERE ${ctx.consent.sql('r.id', PURPOSE)}
         ON CONFLICT (origin_profile_id, key, ts) WHERE event_id < 0 DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [rows.map((x) => x.id), rows.map((x) => x.key), rows.map((x) => x.value), seen.asOf],
    );
    const n = r?.n ?? 0;
    await tx.query(
      `UPDATE journeys_trait_copy SET after = $2::uuid, people = people + $3, copied = copied + $4, error = NULL, updated_at = now() WHERE journey = $1`,
      [seen.journey, ids[ids.length - 1], ids.length, n],
    );
    return n;
  });
}

/** Records why the copy of a journey stopped (`failed`: for good; otherwise the job's retry goes on from the cursor). */
async function recordError(ctx: PluginContext, journey: string, err: unknown, failed: boolean): Promise<void> {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
  await ctx.db.query(
    `UPDATE journeys_trait_copy SET error = $2, state = CASE WHEN $3 THEN 'failed' ELSE state END, updated_at = now() WHERE journey = $1 AND state = 'copying'`,
    [journey, message, failed],
  ).catch(() => undefined); // the database may be what failed: the retry reads the cursor, not this
}

/**
 * Copies the current values of the keys a journey's definition added, for everyone the plugin knows, `chunk` people
 * per transaction, resuming after the last chunk written. Keys no journey names any more are skipped. A person whose
 * consent does not allow analytics gets no value (the host answers null); values are stored with the copy's `asOf`
 * timestamp and a negative event id, so an identify event after the definition wins. A chunk written twice adds
 * nothing (unique copied rows). A refusal by the host (an admin changed the trait's policy since the definition) stops
 * the copy (`failed`, with the reason); any other error is recorded and thrown, and the job's retry resumes.
 * Returns the number of values written.
 */
export async function copyJourneyTraits(ctx: PluginContext, journey: string, chunk = TRAIT_COPY_CHUNK): Promise<number> {
  let written = 0;
  for (;;) {
    const copy = await loadCopy(ctx.db, journey);
    if (!copy || copy.state !== 'copying') break;
    const named = traitKeysOf(await loadJourneys(ctx.db));
    const keys = copy.keys.filter((k) => named.has(k));
    if (copy.total === null) await countKnownPeople(ctx, journey);
    const ids = keys.length > 0 ? await knownPeopleAfter(ctx, copy.after, chunk) : [];
    if (ids.length === 0) {
      await ctx.db.query(
        `UPDATE journeys_trait_copy SET state = 'copied', total = greatest(total, people), updated_at = now()
          WHERE journey = $1 AND state = 'copying' AND after = $2::uuid AND keys = $3::text[]`,
        [journey, copy.after, copy.keys],
      );
      continue;
    }
    let values: Map<string, Record<string, unknown>>;
    try {
      values = await ctx.traits.read(ids, keys, PURPOSE, { ref: `journeys:copy:${journey.slice(0, 100)}` });
    } catch (err) {
      if (err instanceof RapportError) {
        ctx.logger.warn({ journey, code: err.code, rule: err.rule }, 'journeys: the trait copy was refused by the host; placing people from what is kept');
        await recordError(ctx, journey, err, true);
        break;
      }
      await recordError(ctx, journey, err, false);
      throw err;
    }
    let n: number | null;
    try {
      n = await writeChunk(ctx, copy, ids, values);
    } catch (err) {
      await recordError(ctx, journey, err, false);
      throw err;
    }
    if (n !== null) written += n;
  }
  if (written > 0) ctx.metrics.counter('trait_values_backfilled_total', 'Trait values copied from profiles when a journey started naming a trait key.').inc(written);
  return written;
}
