/**
 * The `journeys.stages` extension point: how other plugins (segments, messaging) react to stage changes.
 *
 * - Durable: `changesAfter(cursor)` reads the change log in commit order. A consumer keeps the last id it handled in
 *   its own table (in the transaction of its effects) and reads after it, so nothing is lost across restarts.
 * - Live: `onChange(listener)` calls the listener in this process when changes commit (in any server process: they
 *   are announced with `ctx.notify` on commit). At most once per process; a process that was not listening misses
 *   them, hence `changesAfter` for anything that must not be lost.
 */
import { createExtensionPoint, type PluginContext } from '@rapport/core';
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
  init(ctx: PluginContext): Promise<void>;
  close(): void;
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
  return {
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
    async init(c) {
      ctx = c;
      unsubscribe = await c.notify.subscribe(STAGE_TOPIC, (payload) => {
        dispatch(payload).catch((err: unknown) => c.logger.warn({ err: (err as Error).message }, 'journeys: reading stage changes failed'));
      });
    },
    close() {
      unsubscribe?.();
      listeners.clear();
    },
  };
}
