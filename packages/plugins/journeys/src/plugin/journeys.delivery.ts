/**
 * The delivery handler: keeps the plugin's compact event store (`journeys_event`) in step with what core stores.
 * Events are written once per event id (a redelivery rewrites the same row); merges move a person's events to the
 * survivor; an unmerge moves back the events whose first profile now lives elsewhere. One transaction per batch.
 */
import type { Change, EventRecord, PluginContext, SqlRunner } from '@rapport/core';
import { MAX_PROPERTY_CHARS, type ResolvedJourneysOptions } from './options';
import { beginStageBatch, unmergeTraits } from './stage.delivery';

/** The name a funnel step matches: a track event's name; page and screen views as `Page Viewed` and `Screen Viewed`. */
export function eventName(e: Pick<EventRecord, 'type' | 'name'>): string | null {
  if (e.type === 'track') return e.name || null;
  if (e.type === 'page') return 'Page Viewed';
  if (e.type === 'screen') return 'Screen Viewed';
  return null;
}

/** The properties kept: top-level strings (short), numbers and booleans, of the configured keys. `null` when none. */
export function keptProperties(props: Record<string, unknown> | null | undefined, keys: ReadonlySet<string> | null): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  let any = false;
  for (const [key, v] of Object.entries(props ?? {})) {
    if (keys && !keys.has(key)) continue;
    const ok = (typeof v === 'string' && v.length <= MAX_PROPERTY_CHARS) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
    if (ok) {
      out[key] = v;
      any = true;
    }
  }
  return any ? out : null;
}

interface Row {
  id: string;
  profileId: string;
  originId: string;
  name: string;
  ts: number;
  props: string | null;
}

async function writeEvents(tx: SqlRunner, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO journeys_event (event_id, profile_id, origin_profile_id, name, ts, props)
     SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::text[], $5::bigint[], $6::jsonb[])
     ON CONFLICT (event_id) DO UPDATE SET profile_id = EXCLUDED.profile_id`,
    [rows.map((r) => r.id), rows.map((r) => r.profileId), rows.map((r) => r.originId), rows.map((r) => r.name), rows.map((r) => r.ts), rows.map((r) => r.props)],
  );
}

/** Builds the handler for the resolved options. */
export function createDeliveryHandler(opts: ResolvedJourneysOptions) {
  return async function handle(changes: Change[], ctx: PluginContext): Promise<void> {
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
      let pending: Row[] = [];
      const stages = await beginStageBatch(tx, ctx);
      for (const c of changes) {
        if (c.kind === 'event') {
          const name = eventName(c.event);
          stages.event(c.event, name);
          if (!name) continue;
          const props = keptProperties(c.event.properties, opts.properties);
          pending.push({
            id: c.event.id, profileId: c.event.profileId, originId: c.event.originProfileId, name,
            ts: c.event.timestamp.getTime(), props: props ? JSON.stringify(props) : null,
          });
          continue;
        }
        // Changes apply in order: events before a merge are written before it moves them.
        await writeEvents(tx, pending);
        await stages.flush();
        stored += pending.length;
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
      await writeEvents(tx, pending);
      stored += pending.length;
      await stages.finish();
    });
    if (stored > 0) ctx.metrics.counter('events_stored_total', 'Events written to the journeys store (redeliveries included).').inc(stored);
  };
}
