import { definePlugin, type Change, type PluginContext, type RapportPlugin } from '@rapport/core';
import DataLoader from 'dataloader';
import { CreateRecommendations1764100000000 } from './1764100000000-create-recommendations';
import { AppliedEvents1764100000001 } from './1764100000001-applied-events';
import { ScheduleRuns1764100000002 } from './1764100000002-schedule-runs';
import { RecInteraction, RecItem, RecModel } from './entities';
import { ItemResolver, MANAGE, ProfileRecommendationsResolver, recLoaders } from './graphql';
import { resolveOptions, type RecommendationsOptions } from './options';
import { kindOf, productsOf, propertyWarnings } from './products';
import { TOPICS } from './channels';
import { chunkPayloads, Runtime } from './runtime';
import { MODEL_NAME } from './model-store';
import { addInteractionsBatch, foldInteractionsIn, interactionsOf, itemsByIds, mergeMentions, upsertEventItems, type ItemRow } from './store';
import { trainRecommendations } from './train';

/** `6 h`, `90 s`, `2 min`: a period for people. */
export function formatPeriod(ms: number): string {
  if (ms % 3600_000 === 0) return `${ms / 3600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** Applied-event rows older than this are pruned (a redelivery comes within a lease, not days later). */
const APPLIED_KEEP_DAYS = 30;

/**
 * Recommendations: a catalog (`upsertItems`, and implicitly from Segment e-commerce events),
 * interactions kept from those events, EASE trained by `rapport train recommendations` and served
 * from each profile's current interactions as `Profile.recommendations`, with popularity for
 * cold start and for profiles that did not grant personalization.
 */
export const recommendationsPlugin = definePlugin((options: RecommendationsOptions): RapportPlugin => {
  const opts = resolveOptions(options);
  let runtime: Runtime | null = null;
  const runtimeOf = (ctx: PluginContext) => (runtime ??= new Runtime(ctx, opts));

  /**
   * Counts a batch of delivered changes: e-commerce events become interactions (and catalog rows),
   * merges fold interactions onto the survivor. One transaction per batch, with the ids of the
   * events it counted, so a batch delivered again counts nothing twice.
   */
  async function apply(changes: Change[], ctx: PluginContext): Promise<void> {
    const weighted = changes.flatMap((c) => {
      if (c.kind !== 'event' || c.event.type !== 'track' || !c.event.name) return [];
      const weight = opts.weights[c.event.name];
      const products = weight === undefined ? [] : productsOf(c.event.properties);
      return products.length ? [{ event: c.event, weight: weight!, products }] : [];
    });
    const merges = changes.flatMap((c) => (c.kind === 'merge' ? [c.merge] : []));
    if (!weighted.length && !merges.length) return;
    const touched = new Set<string>();
    const changedItems: ItemRow[] = [];
    let moved = false;
    await ctx.db.transaction(async (tx) => {
      // Held against erasure: interactions of a person erased since the batch was loaded are not counted (an erasure
      // that starts now waits for this transaction, then removes them).
      const present = await ctx.profiles.hold(tx, weighted.map((w) => w.event.profileId));
      const live = weighted.filter((w) => present.has(w.event.profileId));
      const fresh = new Set(
        live.length
          ? (await tx.query<{ event_id: string }>('INSERT INTO rec_applied_event (event_id) SELECT unnest($1::bigint[]) ON CONFLICT DO NOTHING RETURNING event_id::text', [live.map((w) => w.event.id)])).map((r) => r.event_id)
          : [],
      );
      const counted = live.filter((w) => fresh.has(String(w.event.id)));
      let known: Set<string> | null = null;
      if (opts.createItemsFromEvents) changedItems.push(...(await upsertEventItems(tx, mergeMentions(counted.flatMap((w) => w.products)))));
      else {
        const ids = [...new Set(counted.flatMap((w) => w.products.map((p) => p.id)))];
        known = new Set((await itemsByIds(tx, ids)).flatMap((r) => (r ? [r.id] : [])));
      }
      const deltas = counted.flatMap((w) =>
        w.products
          .filter((p) => !known || known.has(p.id))
          .map((p) => ({ profileId: w.event.profileId, itemId: p.id, weight: w.weight, kind: kindOf(w.event.name!), at: w.event.timestamp ?? new Date() })),
      );
      // An event counts on the profile it is on now; a merge in the same batch then folds it, as in delivery order.
      await addInteractionsBatch(tx, deltas);
      for (const d of deltas) touched.add(d.profileId);
      if (deltas.length) moved = true;
      for (const m of merges) {
        if ((await foldInteractionsIn(tx, m.survivorId, m.mergedId)) > 0) moved = true;
        touched.add(m.survivorId).add(m.mergedId);
      }
    });
    const rt = runtimeOf(ctx);
    if (changedItems.length) await rt.itemsChanged(changedItems);
    if (touched.size) rt.historyChanged(touched);
    if (moved) rt.catalog.markActivity();
  }

  return {
    name: 'recommendations',
    version: '0.2.0',
    compatibility: '^0.1.0',
    entities: [RecItem, RecInteraction, RecModel],
    migrations: [CreateRecommendations1764100000000, AppliedEvents1764100000001, ScheduleRuns1764100000002],
    resolvers: [ItemResolver, ProfileRecommendationsResolver],
    permissions: { admin: [MANAGE] },
    purposes: [{ name: 'personalization', description: 'Tailor content, recommendations and offers to the person.', legalBasis: 'consent' }],

    loaders: (ctx: PluginContext) =>
      recLoaders.provide({
        runtime: runtimeOf(ctx),
        // The CURRENT interactions of every profile a request asks about, in one statement.
        history: new DataLoader((ids: readonly string[]) => runtimeOf(ctx).historiesOf(ids)),
        items: new DataLoader((ids: readonly string[]) => itemsByIds(ctx.db, ids)),
      }),

    // During validation: tell the sender what of a weighted e-commerce event will not be used as sent.
    checkEvent(event) {
      if (event.type !== 'track' || !event.name || opts.weights[event.name] === undefined) return [];
      return propertyWarnings(event.properties);
    },

    // Off the request path: ingestion never waits for interactions to be counted.
    delivery: {
      kinds: ['event', 'merge'],
      batchSize: 200,
      from: opts.fromHistory ? 'history' : 'now',
      handle: apply,
    },

    async onInit(ctx) {
      // /metrics: which model this process serves, as the gauge model_info{model, version} = 1.
      ctx.metrics.labelledGauge('model_info', 'The recommendation model this process serves: 1 for its name and version (popularity, version none, before a trained version is loaded).', ['model', 'version'], () => {
        const m = runtime?.model.current;
        return [{ labels: m ? { model: MODEL_NAME, version: String(m.version) } : { model: 'popularity', version: 'none' }, value: 1 }];
      });
      await ctx.jobs.work('prune-applied', async () => {
        await ctx.db.query('DELETE FROM rec_applied_event WHERE applied_at < now() - make_interval(days => $1)', [APPLIED_KEEP_DAYS]);
      });
      await ctx.jobs.schedule('prune-applied', { every: 6 * 3600_000 });
      if (opts.trainEvery) {
        // Each run is recorded first: its start plus the period is the next one (nextTrainingAt).
        const trainingJob = (name: 'train' | 'train-first', firstOnly: boolean, retryLimit: number) =>
          ctx.jobs.work(
            name,
            async () => {
              await ctx.db.query(`INSERT INTO rec_schedule_run (name, last_run) VALUES ($1, now()) ON CONFLICT (name) DO UPDATE SET last_run = now()`, [name]);
              await runtimeOf(ctx).scheduledTraining(firstOnly);
            },
            { retryLimit, expireInSeconds: 4 * 3600 },
          );
        // One run per period across all servers; fitting runs in a worker thread of the server that runs it.
        await trainingJob('train', false, 1);
        await ctx.jobs.schedule('train', { every: opts.trainEvery });
        // Until a first version exists: train as soon as the data reaches the threshold, not at the next period.
        await trainingJob('train-first', true, 0);
        await ctx.jobs.schedule('train-first', { every: opts.firstTrainingCheckMs });
      } else {
        await ctx.jobs.unschedule('train');
        await ctx.jobs.unschedule('train-first');
      }
      ctx.logger.info(
        {
          trainEvery: opts.trainEvery, firstTraining: opts.firstTraining, requireFields: opts.requireFields,
        },
        opts.trainEvery
          ? `recommendations: attribute and popularity picks until the first model, which trains by itself once ${opts.firstTraining.interactions} interactions ` +
              `and ${opts.firstTraining.items} items with ${opts.ease.minItemUsers ?? 5}+ consenting profiles are stored (checked every ${Math.round(opts.firstTrainingCheckMs / 1000)} s); ` +
              `then retrained every ${formatPeriod(opts.trainEvery)}. See { recommendationModel { served nextTrainingAt waitingFor } }`
          : 'recommendations: scheduled training is off (trainEvery: 0): run `rapport train recommendations` to train; until then attribute and popularity picks are served',
      );
    },

    // The health query's `plugins { status }`: what serves, and when the next training runs.
    async status(ctx) {
      const s = await runtimeOf(ctx).status();
      return {
        served: s.served, model: s.model, version: s.version, trainedAt: s.trainedAt?.toISOString() ?? null,
        nextTrainingAt: s.nextTrainingAt?.toISOString() ?? null, waitingFor: s.waitingFor, lastError: s.lastError,
      };
    },

    async onExport(profileIds, ctx) {
      return { interactions: (await interactionsOf(ctx.db, profileIds)).flat() };
    },

    async onProfileDeleted(profileIds, ctx) {
      // Erasure: the interactions go in core's delete transaction, then out of every server's memory.
      await ctx.tx.query('DELETE FROM rec_interaction WHERE profile_id = ANY($1::uuid[])', [profileIds]);
      // Sent with the transaction: every server (this one too) drops them when the deletion commits,
      // so no read between this hook and the commit can put them back in a cache.
      for (const payload of chunkPayloads(profileIds, (c) => c.join(','), ctx.notify.maxPayload)) await ctx.notify.publish(TOPICS.history, payload, ctx.tx);
      runtimeOf(ctx).historyChanged(profileIds);
      runtimeOf(ctx).catalog.markActivity();
    },

    async train(ctx, { onProgress }) {
      return { ...(await trainRecommendations(ctx, { ease: opts.ease, keep: opts.keepVersions, requireFields: opts.requireFields }, onProgress)) };
    },

    async onShutdown() {
      await runtime?.stop();
    },
  };
});
