/**
 * The stage part of the delivery handler, in the batch's transaction: keeps the trait values journey rules read, and
 * after the batch's events, merges and unmerges are written, re-evaluates the people they touched in every journey.
 */
import type { Change, EventRecord, PluginContext, SqlRunner } from '@rapport/core';
import { flatConditions, holdsForNobody, traitKeysOf, type JourneySpec } from './journey-definition';
import { loadJourneys, sameDefinition, type StoredJourney } from './journey-definition.store';
import { MAX_PROPERTY_CHARS, PURPOSE } from './options';
import { applyStages, lockStages, mergeStages } from './stage.service';
import { stagePlan, TouchedPeople } from './stage.increment';

const NO_KEYS: readonly string[] = [];

interface TraitRow { eventId: string; key: string; profileId: string; originId: string; value: string; ts: number }

/** A trait value a rule can compare: a short string, a finite number or a boolean; or null (the trait is unset: `exists: false`). */
function keptTrait(v: unknown): boolean {
  return v === null || (typeof v === 'string' && v.length <= MAX_PROPERTY_CHARS) || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';
}

/**
 * What an event must carry to be able to change a person's stage in a journey: one of the event names its rules name,
 * or (identify) one of the trait keys they name. `null` when any event can: a stage whose conditions all hold for a
 * person with nothing (`absent` events, `exists: false` traits, an `anyOf` with a group of those) holds for a person
 * with no event of those names, so a person's first event of any name can put them in it.
 */
export function stageInputsOf(j: JourneySpec): { names: Set<string>; traits: Set<string> } | null {
  if (j.stages.some((s) => s.when.every(holdsForNobody))) return null;
  const names = new Set<string>();
  const traits = new Set<string>();
  for (const s of j.stages) for (const c of flatConditions(s.when)) (c.kind === 'event' ? names.add(c.event) : traits.add(c.trait));
  return { names, traits };
}

/** One delivery batch's stage work, begun inside the batch's transaction. */
export interface StageBatch {
  /**
   * An event of the batch, with the name rules match it by (`eventName`): identify traits are kept, and the person is
   * re-evaluated in each journey whose rules the event can change ({@link stageInputsOf}).
   */
  event(e: EventRecord, name: string | null): void;
  /** Writes the traits collected so far (call where the handler writes its pending events). */
  flush(): Promise<void>;
  /** Any other change of the batch (merge, unmerge, consent), in order, after `flush`. */
  change(c: Change): Promise<void>;
  /** Re-evaluates everyone the batch touched, in every journey. */
  finish(): Promise<void>;
}

/** Begins a batch: reads the journeys (none: everything is a no-op). */
export async function beginStageBatch(tx: SqlRunner, ctx: PluginContext): Promise<StageBatch> {
  const journeys: StoredJourney[] = await loadJourneys(tx);
  const keys = traitKeysOf(journeys);
  const inputs = journeys.map(stageInputsOf);
  // Per journey, the people to re-evaluate, with the inputs of its rules their events changed (stage.increment.ts):
  // those with an event its rules read, and everyone a merge, an unmerge or a consent change touched (in every
  // journey, in full: null). An event no rule reads cannot change the stage (time can, and the re-check job handles
  // it), so it costs no evaluation.
  const touchedBy = journeys.map((j) => new TouchedPeople(stagePlan(j)));
  const touched = new Set<string>();
  // Everyone an event of the batch was about: evaluated in full in a journey defined or redefined while the batch ran.
  const everyone = new Set<string>();
  const merges: { survivorId: string; mergedId: string }[] = [];
  let traits: TraitRow[] = [];
  // Profiles identify events were delivered for (origin to current), known to a later trait backfill (stage.traits.ts).
  let identified = new Map<string, string>();
  let locked = false;
  const lock = async () => {
    if (!locked) await lockStages(tx);
    locked = true;
  };
  const batch: StageBatch = {
    event(e, name) {
      if (e.type === 'identify') identified.set(e.originProfileId, e.profileId);
      if (journeys.length === 0) return;
      everyone.add(e.profileId);
      const setKeys = e.type === 'identify' && e.traits && keys.size > 0 ? Object.keys(e.traits).filter((k) => keys.has(k)) : NO_KEYS;
      inputs.forEach((inp, i) => {
        if (inp && !(name !== null && inp.names.has(name)) && !setKeys.some((k) => inp.traits.has(k))) return;
        touchedBy[i]!.event(e.profileId, name, setKeys);
      });
      if (e.type !== 'identify' || !e.traits || keys.size === 0) return;
      for (const [key, value] of Object.entries(e.traits)) {
        if (!keys.has(key) || !keptTrait(value)) continue;
        traits.push({ eventId: e.id, key, profileId: e.profileId, originId: e.originProfileId, value: JSON.stringify(value), ts: e.timestamp.getTime() });
      }
    },
    async flush() {
      if (identified.size > 0) {
        const ids = identified;
        identified = new Map();
        await tx.query(
          `INSERT INTO journeys_identified (origin_profile_id, profile_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])
           ON CONFLICT (origin_profile_id) DO UPDATE SET profile_id = EXCLUDED.profile_id WHERE journeys_identified.profile_id <> EXCLUDED.profile_id`,
          [[...ids.keys()], [...ids.values()]],
        );
      }
      if (traits.length === 0) return;
      const t = traits;
      traits = [];
      await tx.query(
        `INSERT INTO journeys_trait (event_id, key, profile_id, origin_profile_id, value, ts)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::uuid[], $5::jsonb[], $6::bigint[])
         ON CONFLICT (event_id, key) DO UPDATE SET profile_id = EXCLUDED.profile_id, value = EXCLUDED.value`,
        [t.map((r) => r.eventId), t.map((r) => r.key), t.map((r) => r.profileId), t.map((r) => r.originId), t.map((r) => r.value), t.map((r) => r.ts)],
      );
    },
    async change(c) {
      if (c.kind === 'merge') {
        // Traits follow their events to the survivor (the handler moves the events).
        await tx.query('UPDATE journeys_trait SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
        await tx.query('UPDATE journeys_identified SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
        if (journeys.length === 0) return;
        merges.push({ survivorId: c.merge.survivorId, mergedId: c.merge.mergedId });
        touched.add(c.merge.survivorId);
      } else if (c.kind === 'unmerge') {
        touched.add(c.unmerge.survivorId).add(c.unmerge.restoredId);
      } else if (c.kind === 'consent' && c.consent.purpose === PURPOSE) {
        touched.add(c.consent.profileId);
      }
    },
    async finish() {
      await batch.flush();
      if (journeys.length === 0 || (touched.size === 0 && touchedBy.every((t) => t.people.size === 0))) return;
      await lock();
      for (const m of merges) await mergeStages(tx, ctx, m.survivorId, m.mergedId);
      // The definitions as they are now, read under the stage lock: one redefined since the batch began may already
      // have been evaluated for these people by its backfill, and writing what the old version said would undo that
      // (a journey deleted meanwhile is skipped). A journey defined or redefined meanwhile is evaluated in full for
      // everyone the batch was about: its backfill could not see what this transaction wrote (their traits).
      const latest = await loadJourneys(tx);
      const began = new Map(journeys.map((j, i) => [j.name, i]));
      // Stored stages are results of their journey's current version only once every journey is evaluated for
      // everyone: a backfill under way may still be copying trait values other journeys read (stage.traits.ts).
      const allReady = latest.every((j) => j.ready);
      for (const now of latest) {
        const i = began.get(now.name);
        if (i === undefined || !sameDefinition(journeys[i]!, now)) {
          await applyStages(tx, ctx, now, [...everyone, ...touched], 'event');
          continue;
        }
        const by = touchedBy[i]!;
        for (const id of touched) by.full(id);
        await applyStages(tx, ctx, now, [...by.people.keys()], 'event', Date.now(), allReady ? by.people : undefined);
      }
    },
  };
  return batch;
}

/** Moves traits back after an unmerge: the survivor's traits whose first profile now lives elsewhere (`moves`: origin, live). */
export async function unmergeTraits(tx: SqlRunner, survivorId: string, moves: [origin: string, live: string][]): Promise<void> {
  if (moves.length === 0) return;
  await tx.query(
    `UPDATE journeys_trait t SET profile_id = m.live FROM unnest($2::uuid[], $3::uuid[]) AS m(origin, live)
      WHERE t.profile_id = $1 AND t.origin_profile_id = m.origin`,
    [survivorId, moves.map(([o]) => o), moves.map(([, l]) => l)],
  );
  await tx.query(
    `UPDATE journeys_identified t SET profile_id = m.live FROM unnest($2::uuid[], $3::uuid[]) AS m(origin, live)
      WHERE t.profile_id = $1 AND t.origin_profile_id = m.origin`,
    [survivorId, moves.map(([o]) => o), moves.map(([, l]) => l)],
  );
}
