/**
 * The delivery handler: keeps the plugin's compact event store (`journeys_event`) in step with what core stores.
 * Events are written once per event id (a redelivery rewrites the same row); merges move a person's events to the
 * survivor; an unmerge moves back the events whose first profile now lives elsewhere. One transaction per batch, which
 * holds the batch's people against erasure (`ctx.profiles.hold`) and skips those erased since the batch was loaded.
 */
import type { Change, EventRecord, PluginContext, SqlRunner } from '@rapport/core';
import { MAX_PROPERTY_CHARS, type ResolvedJourneysOptions } from './options';
import { beginStageBatch, unmergeTraits } from './stage.delivery';

/** The step name of page and screen views (whatever the page's own name). */
const VIEW_NAMES: Readonly<Record<string, string>> = { page: 'Page Viewed', screen: 'Screen Viewed' };

/** The name a funnel step matches: a track event's name; page and screen views as `Page Viewed` and `Screen Viewed`. */
export function eventName(e: Pick<EventRecord, 'type' | 'name'>): string | null {
  if (e.type === 'track') return e.name || null;
  return Object.hasOwn(VIEW_NAMES, e.type) ? VIEW_NAMES[e.type]! : null;
}

/** {@link eventName} in SQL, of the event row `e`. */
const EVENT_NAME_SQL = `CASE e.type WHEN 'track' THEN NULLIF(e.name, '') ${Object.entries(VIEW_NAMES).map(([type, name]) => `WHEN '${type}' THEN '${name}'`).join(' ')} END`;

/**
 * A statement copying the delivered events with these ids (`$1`) that funnels can match into the store: the name a step
 * matches ({@link eventName}, in SQL), the time in epoch milliseconds, and the properties kept: top-level strings of at
 * most {@link MAX_PROPERTY_CHARS} characters, numbers and booleans, of the configured keys (`$2`, null: all), or null
 * when none is. Reads the events through the host's event relation: their data never travels to Node and back, which
 * is most of what delivering an event cost (docs/benchmarks.md#with-the-journeys-plugin-loaded).
 */
export function copyEventsSql(events: string): string {
  return `INSERT INTO journeys_event (event_id, profile_id, origin_profile_id, name, ts, props)
    SELECT e.id, e.profile_id, e.origin_profile_id, n.name, floor(extract(epoch FROM e.timestamp) * 1000)::bigint,
           CASE WHEN e.properties = '{}'::jsonb THEN NULL
             -- Most events: every key kept, every value a scalar, and too small a document to hold a long string
             -- (a stored size under the limit in bytes, not compressed): kept whole, without taking it apart.
             WHEN ($2::text[] IS NULL OR (e.properties - $2::text[]) = '{}'::jsonb)
                  AND pg_column_size(e.properties) <= ${MAX_PROPERTY_CHARS} AND pg_column_compression(e.properties) IS NULL
                  AND NOT jsonb_path_exists(e.properties, 'strict $.* ? (@.type() == "object" || @.type() == "array" || @.type() == "null")')
               THEN e.properties
             ELSE (SELECT jsonb_object_agg(p.key, p.value) FROM jsonb_each(e.properties) p
                    WHERE ($2::text[] IS NULL OR p.key = ANY($2::text[]))
                      AND CASE jsonb_typeof(p.value) WHEN 'number' THEN true WHEN 'boolean' THEN true
                            WHEN 'string' THEN char_length(p.value #>> '{}') <= ${MAX_PROPERTY_CHARS} ELSE false END) END
      FROM ${events} e
      CROSS JOIN LATERAL (SELECT ${EVENT_NAME_SQL} AS name) n
     WHERE n.name IS NOT NULL
    ON CONFLICT (event_id) DO UPDATE SET profile_id = EXCLUDED.profile_id`;
}

/** Builds the handler for the resolved options. */
export function createDeliveryHandler(opts: ResolvedJourneysOptions) {
  const keys = opts.properties ? [...opts.properties] : null;
  return async function handle(changes: Change[], ctx: PluginContext): Promise<void> {
    const copy = copyEventsSql(ctx.events.sql('$1'));
    const writeEvents = async (tx: SqlRunner, ids: string[]): Promise<number> => {
      if (ids.length === 0) return 0;
      const [w] = await tx.query<{ n: number }>(`WITH w AS (${copy} RETURNING 1) SELECT count(*)::int AS n FROM w`, [ids, keys]);
      return w?.n ?? 0;
    };
    // Who an unmerge's survivor's events belong to now is read before the transaction (no personal data).
    const unmerged = changes.filter((c) => c.kind === 'unmerge');
    const liveOf = new Map<string, string>();
    if (unmerged.length > 0) {
      const origins = await ctx.db.query<{ origin_profile_id: string }>(
        // Traits (kept for journey stages) move back the same way.
        `SELECT origin_profile_id FROM journeys_event WHERE profile_id = ANY($1::uuid[])
          UNION SELECT origin_profile_id FROM journeys_trait WHERE profile_id = ANY($1::uuid[])
          UNION SELECT origin_profile_id FROM journeys_identified WHERE profile_id = ANY($1::uuid[])`,
        [unmerged.map((c) => (c.kind === 'unmerge' ? c.unmerge.survivorId : ''))],
      );
      const ids = origins.map((o) => o.origin_profile_id);
      const refs = await ctx.profiles.resolve(ids);
      ids.forEach((id, i) => {
        const live = refs[i]?.liveId;
        if (live) liveOf.set(id, live);
      });
    }
    let stored = 0;
    await ctx.db.transaction(async (tx) => {
      stored = 0;
      let pending: string[] = [];
      // Held against erasure first: a person erased since the batch was loaded is skipped (and an erasure that starts
      // now waits for this transaction, then removes what it wrote). An event's first profile too: a person unmerged
      // and erased since is gone even when the profile the event was on is not.
      const present = await ctx.profiles.hold(tx, changes.flatMap((c) => [
        ...(c.profileId ? [c.profileId] : []), ...(c.kind === 'event' && c.event.originProfileId ? [c.event.originProfileId] : []),
      ]));
      const gone = (id: string | null | undefined) => !!id && !present.has(id);
      const stages = await beginStageBatch(tx, ctx);
      for (const c of changes) {
        if (gone(c.profileId) || (c.kind === 'event' && gone(c.event.originProfileId))) continue;
        if (c.kind === 'event') {
          const name = eventName(c.event);
          stages.event(c.event, name);
          if (name) pending.push(c.event.id);
          continue;
        }
        // Changes apply in order: events before a merge are written before it moves them.
        stored += await writeEvents(tx, pending);
        await stages.flush();
        pending = [];
        if (c.kind === 'merge') {
          await tx.query('UPDATE journeys_event SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
        } else if (c.kind === 'unmerge') {
          const moves = [...liveOf].filter(([, live]) => live !== c.unmerge.survivorId);
          if (moves.length > 0) {
            await tx.query(
              `UPDATE journeys_event e SET profile_id = m.live FROM unnest($2::uuid[], $3::uuid[]) AS m(origin, live)
                WHERE e.profile_id = $1 AND e.origin_profile_id = m.origin`,
              [c.unmerge.survivorId, moves.map(([o]) => o), moves.map(([, l]) => l)],
            );
          }
          await unmergeTraits(tx, c.unmerge.survivorId, moves);
        }
        await stages.change(c);
      }
      stored += await writeEvents(tx, pending);
      await stages.finish();
    });
    if (stored > 0) ctx.metrics.counter('events_stored_total', 'Events written to the journeys store (redeliveries included).').inc(stored);
  };
}
