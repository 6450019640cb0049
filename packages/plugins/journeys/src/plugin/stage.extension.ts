/**
 * The `journeys.stages` extension point: how other plugins (segments, messaging) react to stage changes.
 *
 * - Durable: `changesAfter(cursor)` reads the change log in commit order. A consumer keeps the last id it handled in
 *   its own table (in the transaction of its effects) and reads after it, so nothing is lost across restarts.
 * - Live: `onChange(listener)` calls the listener in this process when changes commit (in any server process: they
 *   are announced with `ctx.notify` on commit). At most once per process; a process that was not listening misses
 *   them, hence `changesAfter` for anything that must not be lost.
 * - GraphQL: the `journeyStageChanged` subscription watches one journey through the runtime's `watch`, fed by the same
 *   live changes, of people whose consent allows analytics only (one consent read per batch, whatever the number of
 *   subscribers).
 */
import { createExtensionPoint, type PluginContext } from '@rapport/core';
import { PURPOSE } from './options';
import { readChanges, STAGE_TOPIC, type StageChange } from './stage.service';

/** Called with changes that just committed, oldest first. */
export type StageChangeListener = (changes: StageChange[]) => void | Promise<void>;

/** A person's current stage in a journey. */
export interface CurrentStage {
  stage: string;
  enteredAt: Date;
}

/** What the journeys plugin offers other plugins about stages. */
export interface JourneyStagesExtension {
  /** Changes after `afterId` (exclusive; null: from the oldest kept), oldest first, at most `limit` (default 500, at most 10,000). */
  changesAfter(afterId: string | null, limit?: number): Promise<StageChange[]>;
  /** Registers a live listener in this process; returns the unregister function. */
  onChange(listener: StageChangeListener): () => void;
  /** The current stage of each profile in a journey (absent: in no stage). */
  stagesOf(journey: string, profileIds: readonly string[]): Promise<Map<string, CurrentStage>>;
}

/** The extension point: `ctx.extensions.get(journeyStagesPoint)` in a plugin that lists `journeys` in `dependsOn`. */
export const journeyStagesPoint = createExtensionPoint<JourneyStagesExtension>('journeys.stages');

/** The plugin's side of the extension point: created with the plugin object, connected to its context in `onInit`. */
export interface StageRuntime {
  api: JourneyStagesExtension;
  /**
   * Calls `sink` with the live changes of `journey` (in any server process, as they commit) of people whose consent
   * allows analytics now; returns the unregister function. For GraphQL subscribers.
   */
  watch(journey: string, sink: (changes: StageChange[]) => void): () => void;
  /**
   * The logged changes of `journey` after the change `afterId` (exclusive), oldest first, at most `limit`, of people
   * whose consent allows analytics now: what a GraphQL subscriber resuming after `afterId` missed.
   */
  missed(journey: string, afterId: string, limit: number): Promise<StageChange[]>;
  init(ctx: PluginContext): Promise<void>;
  close(): void;
}

/** The runtime of each started journeys plugin, by its context (the resolvers' way to it: `journeysLoaders.of(ctx).plugin`). */
const runtimes = new WeakMap<PluginContext, StageRuntime>();

/** The stage runtime of the journeys plugin whose context this is; throws before the plugin started. */
export function stageRuntimeOf(ctx: PluginContext): StageRuntime {
  const r = runtimes.get(ctx);
  if (!r) throw new Error('journeys.stages: the journeys plugin has not started yet');
  return r;
}

/** Creates the runtime behind the extension point. */
export function createStageRuntime(): StageRuntime {
  let ctx: PluginContext | null = null;
  let unsubscribe: (() => void) | null = null;
  const listeners = new Set<StageChangeListener>();
  const need = (): PluginContext => {
    if (!ctx) throw new Error('journeys.stages: the journeys plugin has not started yet (use the extension point in onInit or later)');
    return ctx;
  };
  const dispatch = async (payload: string) => {
    const m = /^(\d+)-(\d+)$/.exec(payload);
    if (!m || listeners.size === 0 || !ctx) return;
    const first = BigInt(m[1]!);
    const changes = await readChanges(ctx.db, String(first - 1n), 10_000, m[2]);
    for (const l of [...listeners]) {
      try {
        await l(changes);
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message }, 'journeys: a stage change listener failed');
      }
    }
  };
  // GraphQL watchers by journey, fed by one listener (registered while there are watchers).
  const watchers = new Map<string, Set<(changes: StageChange[]) => void>>();
  let unlisten: (() => void) | null = null;
  const toWatchers: StageChangeListener = async (changes) => {
    const watched = changes.filter((c) => watchers.has(c.journey));
    if (watched.length === 0 || !ctx) return;
    // Only people who allow analytics now are announced (the change log also holds the one change that tells
    // consumers a person who refused left: that one is not announced either).
    const allowed = await ctx.consent.allows([...new Set(watched.map((c) => c.profileId))], PURPOSE);
    const byJourney = new Map<string, StageChange[]>();
    for (const c of watched) {
      if (!allowed.get(c.profileId)) continue;
      const list = byJourney.get(c.journey) ?? [];
      byJourney.set(c.journey, list);
      list.push(c);
    }
    for (const [journey, list] of byJourney) for (const sink of [...(watchers.get(journey) ?? [])]) sink(list);
  };
  const runtime: StageRuntime = {
    api: {
      changesAfter: (afterId, limit = 500) => {
        if (afterId !== null && !/^\d{1,19}$/.test(afterId)) throw new RangeError(`journeys.stages: afterId must be a change id, got ${JSON.stringify(afterId)}`);
        return readChanges(need().db, afterId, Math.max(1, Math.min(10_000, Math.floor(limit))));
      },
      onChange(listener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
      async stagesOf(journey, profileIds) {
        const rows = await need().db.query<{ profile_id: string; stage: string; entered_at: Date }>(
          'SELECT profile_id, stage, entered_at FROM journeys_stage WHERE journey = $1 AND profile_id = ANY($2::uuid[])',
          [journey, [...profileIds]],
        );
        return new Map(rows.map((r) => [r.profile_id, { stage: r.stage, enteredAt: r.entered_at }]));
      },
    },
    async missed(journey, afterId, limit) {
      const c = need();
      const changes = await readChanges(c.db, afterId, limit, undefined, journey);
      if (changes.length === 0) return changes;
      const allowed = await c.consent.allows([...new Set(changes.map((x) => x.profileId))], PURPOSE);
      return changes.filter((x) => allowed.get(x.profileId));
    },
    watch(journey, sink) {
      let set = watchers.get(journey);
      if (!set) watchers.set(journey, (set = new Set()));
      set.add(sink);
      unlisten ??= runtime.api.onChange(toWatchers);
      return () => {
        set.delete(sink);
        if (set.size === 0 && watchers.get(journey) === set) watchers.delete(journey);
        if (watchers.size === 0) {
          unlisten?.();
          unlisten = null;
        }
      };
    },
    async init(c) {
      ctx = c;
      runtimes.set(c, runtime);
      // One announcement at a time, in the order they arrive (commit order): listeners see changes in id order.
      let chain = Promise.resolve();
      unsubscribe = await c.notify.subscribe(STAGE_TOPIC, (payload) => {
        chain = chain
          .then(() => dispatch(payload))
          .catch((err: unknown) => c.logger.warn({ err: (err as Error).message }, 'journeys: reading stage changes failed'));
      });
    },
    close() {
      unsubscribe?.();
      listeners.clear();
      watchers.clear();
      unlisten = null;
    },
  };
  return runtime;
}
