/**
 * The delivery handler: keeps journey stages current from the event stream. Funnels and the other aggregates read
 * core's events in place (journey-events.relation.ts), so delivery copies no event: it keeps the trait values rules
 * read and who was identified, moves them with merges and unmerges, and re-evaluates the people a batch touched. It
 * loads only the events that can change a stage ({@link selectEvents}). One transaction per batch, which holds the
 * batch's people against erasure (`ctx.profiles.hold`) and skips those erased since the batch was loaded.
 */
import type { Change, DeliverySubscription, EventRecord, EventSelection, PluginContext } from '@rapport/core';
import { loadJourneys } from './journey-definition.store';
import { VIEW_NAMES, VIEW_TYPES } from './journey-events.relation';
import { beginStageBatch, stageInputsOf, unmergeTraits } from './stage.delivery';

/** The name a funnel step matches: a track event's name; page and screen views as `Page Viewed` and `Screen Viewed`. */
export function eventName(e: Pick<EventRecord, 'type' | 'name'>): string | null {
  if (e.type === 'track') return e.name || null;
  return Object.hasOwn(VIEW_NAMES, e.type) ? VIEW_NAMES[e.type]! : null;
}

/**
 * The events a batch loads ({@link DeliverySubscription.selectEvents}): identify events (the trait values rules read,
 * and who was identified), and the events the journeys' rules name. With no journey defined, identify events only;
 * with a journey whose stage any event can change ({@link stageInputsOf}), every event.
 */
export async function selectEvents(ctx: PluginContext): Promise<EventSelection | null> {
  const journeys = await loadJourneys(ctx.db);
  const names = new Set<string>();
  const types = new Set<string>(['identify']);
  for (const j of journeys) {
    const inputs = stageInputsOf(j);
    if (!inputs) return null;
    for (const n of inputs.names) {
      const type = VIEW_TYPES.get(n);
      if (type) types.add(type);
      else names.add(n);
    }
  }
  return { types: [...types], names: [...names] };
}

/** Builds the handler. */
export function createDeliveryHandler() {
  return async function handle(changes: Change[], ctx: PluginContext): Promise<void> {
    // Who an unmerge's survivor's traits belong to now is read before the transaction (no personal data).
    const unmerged = changes.filter((c) => c.kind === 'unmerge');
    const liveOf = new Map<string, string>();
    if (unmerged.length > 0) {
      const origins = await ctx.db.query<{ origin_profile_id: string }>(
        `SELECT origin_profile_id FROM journeys_trait WHERE profile_id = ANY($1::uuid[])
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
    await ctx.db.transaction(async (tx) => {
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
          stages.event(c.event, eventName(c.event));
          continue;
        }
        // Changes apply in order: traits of the events before a merge are written before it moves them.
        await stages.flush();
        if (c.kind === 'unmerge') {
          await unmergeTraits(tx, c.unmerge.survivorId, [...liveOf].filter(([, live]) => live !== c.unmerge.survivorId));
        }
        await stages.change(c);
      }
      await stages.finish();
    });
  };
}

/** The plugin's delivery: every kind of change, from the start of history, the events {@link selectEvents} selects. */
export function journeysDelivery(): DeliverySubscription<PluginContext> {
  return {
    kinds: ['event', 'merge', 'unmerge', 'consent'], from: 'history', batchSize: 500,
    // Only the event fields the stage rules read are loaded into Node.
    eventFields: ['originProfileId', 'traits'],
    selectEvents, handle: createDeliveryHandler(),
  };
}
