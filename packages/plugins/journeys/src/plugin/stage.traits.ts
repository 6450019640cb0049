/**
 * The trait backfill of a journey definition. The plugin keeps only the trait keys some journey reads, from identify
 * events as they are delivered; a definition that starts naming a key would leave everyone identified earlier without
 * a value. So `defineJourney` copies the current value of each added key from the host, for every person the plugin
 * knows, in the definition's transaction; the `stages-backfill` job then evaluates everyone against it.
 *
 * The host hands trait values to a plugin only inside a request, decided by the field guard for the caller and the
 * request's purpose (`RequestContext.traitSql`); a job (`PluginContext`) has no way to read them. Hence the copy is made
 * in the mutation, which must act for `analytics` (the plugin's purpose) when it adds a trait key.
 */
import { ValidationError, type PluginContext, type SqlRunner } from '@rapport/core';
import type { RequestContext } from '@rapport/schema';
import type { JourneySpec } from './journey-definition';
import { traitKeysOf } from './journey-definition';
import { PURPOSE } from './options';

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

/** People the plugin knows: with events, kept traits, an identify delivered, or a stage. */
const KNOWN = `SELECT DISTINCT profile_id FROM journeys_event
               UNION SELECT profile_id FROM journeys_trait
               UNION SELECT profile_id FROM journeys_identified
               UNION SELECT profile_id FROM journeys_stage`;

/**
 * Copies the current value of each added trait key (key to the field that named it) for every person the plugin knows
 * and whose consent allows analytics, as trait rows timestamped `nowMs` (an identify event after it wins). A value is
 * read through `request.traitSql`: the field guard's decision for this caller and purpose, NULL for each person whose
 * consent the trait's policy needs and who has not given it. Returns the number of values copied.
 *
 * A dotted key (which the host does not read) is not copied, with a warning `TRAIT_NOT_COPIED` on its field.
 *
 * @throws ValidationError `purpose`/`actsFor` when the request does not act for analytics; the host's FORBIDDEN
 *   errors (`permission`, `pii`, `purpose`, `role`, `default`) name the condition's `trait` field.
 */
export async function copyTraitValues(tx: SqlRunner, ctx: PluginContext, request: RequestContext, added: ReadonlyMap<string, string>, nowMs = Date.now()): Promise<number> {
  if (added.size === 0) return 0;
  const [first] = added;
  if (request.purpose !== PURPOSE) {
    throw new ValidationError('purpose', 'actsFor',
      `${first![1]} names the trait ${JSON.stringify(first![0].slice(0, 80))}, which no journey read before: its current values are copied for `
      + `${PURPOSE}, so defineJourney must act for it (send X-Rapport-Purpose: ${PURPOSE})`);
  }
  // Every expression first: a trait the caller may not read refuses the whole definition before anything is written.
  const reads = [...added].flatMap(([key, field]) => {
    // The host reads top-level keys without dots only; a dotted key (kept from identify events as it is) gets no copy.
    if (key.includes('.')) {
      request.warn({ code: 'TRAIT_NOT_COPIED', field, rule: 'topLevel', message: `the current values of ${JSON.stringify(key.slice(0, 80))} were not copied: the host reads trait keys without dots only; people are placed by it from their next identify` });
      return [];
    }
    return [{ key, value: request.traitSql('k.profile_id', key, field) }];
  });
  // JIT compiling the per-person subqueries took 300 ms of a 1.4 s copy for 100,000 people, and saves nothing here.
  await tx.query("SELECT set_config('jit', 'off', true)");
  let copied = 0;
  for (const r of reads) {
    const rows = await tx.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO journeys_trait (event_id, key, profile_id, origin_profile_id, value, ts)
         SELECT -nextval('journeys_trait_snapshot_seq'), $1::text, k.profile_id, k.profile_id, to_jsonb(v.value), $2::bigint
           FROM (${KNOWN}) k
           CROSS JOIN LATERAL (SELECT ${r.value} AS value OFFSET 0) v
          WHERE v.value IS NOT NULL AND ${ctx.consent.sql('k.profile_id', PURPOSE)}
         RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [r.key, nowMs],
    );
    copied += rows[0]?.n ?? 0;
  }
  if (copied > 0) ctx.metrics.counter('trait_values_backfilled_total', 'Trait values copied from profiles when a journey started naming a trait key.').inc(copied);
  return copied;
}

