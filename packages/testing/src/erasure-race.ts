import type { Change, PluginContext, RapportPlugin, SqlRunner } from '@rapport/core';
import type { PluginTestkit } from './plugin-testkit';

/** One person's messages for a race: the first accepted message's profile is the one erased. */
export interface ErasureRaceCase {
  /** Messages that make the plugin write about one person. */
  messages: Array<Record<string, unknown>>;
  /** The name of a track event among them: the delivery batch holding it is the one stopped. */
  event: string;
}

/** The two orders of a delivery batch and an erasure of the same person, each stopped where a copy used to be left. */
export interface ErasureRace {
  /**
   * Stops the batch right after its first write (written, not committed), erases the person, lets the batch finish,
   * and resolves with the erased profile id once both have.
   */
  erasureDuringBatch(kit: PluginTestkit, c: ErasureRaceCase): Promise<string>;
  /**
   * Stops the batch once its changes are loaded (before its transaction), erases the person and stops the erasure
   * after the plugins' `onProfileDeleted` hooks ran (not committed), lets the batch go on, and resolves with the erased
   * profile id once both have finished.
   */
  batchDuringErasure(kit: PluginTestkit, c: ErasureRaceCase): Promise<string>;
}

/**
 * Backends of this database waiting for the erasure lock (`consent/erasure-lock.ts`: the two-int key 1380011088, 1,
 * which pg_locks shows as classid, objid and objsubid 2). Other advisory locks (ingestion's, a journey's stage lock)
 * and other databases (test files run side by side on one server) are not counted.
 */
const ERASURE_LOCK_WAITS = `SELECT count(*)::int AS n FROM pg_locks l
  WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = 1380011088 AND l.objid = 1 AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

interface Deferred { promise: Promise<void>; resolve(): void }
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Instruments a plugin (before its testkit starts) to race its delivery against an erasure of the same person, in both
 * orders, so a test can check that nothing of the erased person is left in the plugin's tables afterwards: the check
 * a plugin that keeps data on people needs, and what `ctx.profiles.hold` makes pass
 * (docs/plugins.md#writes-that-race-an-erasure-ctxprofileshold). `writes` tells the plugin's first write of a batch
 * (a statement's SQL) from its reads. The plugin needs a `delivery` and an `onProfileDeleted`.
 *
 * ```ts
 * const race = erasureRace(plugin, { writes: (sql) => sql.includes('INSERT INTO loyalty_order') });
 * const kit = await createPluginTestkit([plugin]);
 * const id = await race.erasureDuringBatch(kit, { event: 'Order Completed', messages: [{ type: 'track', userId: 'u1', event: 'Order Completed' }] });
 * expect(await kit.core.db.query('SELECT 1 FROM loyalty_order WHERE profile_id = $1', [id])).toEqual([]);
 * ```
 */
export function erasureRace(plugin: RapportPlugin, opts: { writes(sql: string): boolean }): ErasureRace {
  const delivery = plugin.delivery;
  const onDeleted = plugin.onProfileDeleted;
  if (!delivery || !onDeleted) throw new Error(`erasureRace: plugin ${plugin.name} needs a delivery and an onProfileDeleted hook`);
  const handle = delivery.handle;
  let afterWrite: { event: string; reached: Deferred; go: Deferred; done: Deferred } | null = null;
  let beforeBatch: { event: string; reached: Deferred; go: Deferred; done: Deferred } | null = null;
  let afterHooks: { reached: Deferred; go: Deferred } | null = null;

  delivery.handle = async (changes: Change[], ctx: PluginContext) => {
    const has = (name: string) => changes.some((c) => c.kind === 'event' && c.event.name === name);
    const before = beforeBatch && has(beforeBatch.event) ? beforeBatch : null;
    if (before) {
      beforeBatch = null;
      before.reached.resolve();
      await before.go.promise;
    }
    const stop = afterWrite && has(afterWrite.event) ? afterWrite : null;
    if (stop) afterWrite = null;
    let stopped = false;
    const db = {
      ...ctx.db,
      available: ctx.db.available,
      transaction: <T>(work: (tx: SqlRunner) => Promise<T>) =>
        ctx.db.transaction((tx) =>
          work({
            async query<R>(sql: string, params?: unknown[]) {
              const rows = await tx.query<R>(sql, params);
              if (stop && !stopped && opts.writes(sql)) {
                stopped = true;
                stop.reached.resolve();
                await stop.go.promise;
              }
              return rows;
            },
          }),
        ),
    };
    try {
      await handle(changes, { ...ctx, db });
    } finally {
      before?.done.resolve();
      stop?.done.resolve();
    }
  };
  plugin.onProfileDeleted = async (ids, ctx) => {
    await onDeleted(ids, ctx);
    const stop = afterHooks;
    if (stop) {
      afterHooks = null;
      stop.reached.resolve();
      await stop.go.promise;
    }
  };

  const erase = async (kit: PluginTestkit, id: string) => {
    const r = await kit.graphql('mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }', { id });
    if (r.errors) throw new Error(`erasureRace: deleteProfile failed: ${JSON.stringify(r.errors)}`);
  };
  const ingest = async (kit: PluginTestkit, c: ErasureRaceCase) => {
    const r = await kit.ingest(c.messages);
    if (r.rejected.length || !r.accepted.length) throw new Error(`erasureRace: the messages were not accepted: ${JSON.stringify(r.rejected)}`);
    return r.accepted[0]!.profileId;
  };
  /**
   * Resolves with the first of `side` settling and some backend of this database waiting for the erasure lock (the
   * side that came second, held back), and stops looking then.
   */
  const firstOf = async (kit: PluginTestkit, side: Promise<unknown>) => {
    let settled = false;
    const watch = side.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    const waits = (async () => {
      while (!settled) {
        const [w] = await kit.core.db.query<{ n: number }>(ERASURE_LOCK_WAITS);
        if (w!.n > 0) return;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await Promise.race([watch, waits]);
    settled = true;
    await waits;
  };
  const kick = (kit: PluginTestkit) => kit.core.pluginContext(plugin).events.kick();

  return {
    async erasureDuringBatch(kit, c) {
      const stop = { event: c.event, reached: deferred(), go: deferred(), done: deferred() };
      afterWrite = stop;
      const id = await ingest(kit, c);
      kick(kit);
      await stop.reached.promise;
      const erasure = erase(kit, id);
      try {
        // The erasure finishes now (and the batch commits after it), or waits for the batch: either way, the batch
        // then goes on.
        await firstOf(kit, erasure);
      } finally {
        stop.go.resolve();
      }
      await erasure;
      // The batch's own end, not settle(): the erasure also removed the person's outbox rows, so delivery can look
      // caught up while the batch is still committing.
      await stop.done.promise;
      await kit.settle();
      return id;
    },
    async batchDuringErasure(kit, c) {
      const batch = { event: c.event, reached: deferred(), go: deferred(), done: deferred() };
      beforeBatch = batch;
      const id = await ingest(kit, c);
      kick(kit);
      await batch.reached.promise;
      const hooks = { reached: deferred(), go: deferred() };
      afterHooks = hooks;
      const erasure = erase(kit, id);
      try {
        await Promise.race([hooks.reached.promise, erasure]);
        batch.go.resolve();
        // The batch writes and commits now (after the hooks ran), or waits for the erasure.
        await firstOf(kit, batch.done.promise);
      } finally {
        batch.go.resolve();
        hooks.go.resolve();
      }
      await erasure;
      await batch.done.promise;
      await kit.settle();
      return id;
    },
  };
}
