import { definePlugin, type PluginContext, type RapportPlugin } from '@rapport/core';
import DataLoader from 'dataloader';
import { CreateRecommendations1764100000000 } from './1764100000000-create-recommendations';
import { RecInteraction, RecItem, RecModel } from './entities';
import { ItemResolver, MANAGE, ProfileRecommendationsResolver, type RecLoaders } from './graphql';
import { resolveOptions, type RecommendationsOptions } from './options';
import { kindOf, productsOf } from './products';
import { CHANNELS } from './channels';
import { chunkPayloads, Runtime } from './runtime';
import { addInteractions, foldInteractions, interactionsOf, itemsByIds, upsertEventItems } from './store';
import { trainRecommendations } from './train';

/**
 * Recommendations: a catalog (`upsertItems`, and implicitly from Segment e-commerce events),
 * interactions kept from those events, EASE trained by `rapport train recommendations` and served
 * from each profile's current interactions as `Profile.recommendations`, with popularity for
 * cold start and for profiles that did not grant personalization.
 */
export const recommendationsPlugin = definePlugin((options: RecommendationsOptions): RapportPlugin => {
  const opts = resolveOptions(options);
  let runtime: Runtime | null = null;
  const runtimeOf = (ctx: PluginContext) => (runtime ??= new Runtime(ctx.db, ctx.logger, opts));

  return {
    name: 'recommendations',
    version: '0.1.0',
    compatibility: '^0.1.0',
    entities: [RecItem, RecInteraction, RecModel],
    migrations: [CreateRecommendations1764100000000],
    resolvers: [ItemResolver, ProfileRecommendationsResolver],
    permissions: { admin: [MANAGE] },
    purposes: [{ name: 'personalization', description: 'Tailor content, recommendations and offers to the person.', legalBasis: 'consent' }],
    fields: [{ type: 'Profile', field: 'recommendations', purposes: ['personalization'] }],

    loaders: (ctx: PluginContext): RecLoaders & Record<string, unknown> => ({
      runtime: runtimeOf(ctx),
      // The CURRENT interactions of every profile a request asks about, in one statement.
      history: new DataLoader((ids: readonly string[]) => runtimeOf(ctx).historiesOf(ids)),
      items: new DataLoader((ids: readonly string[]) => itemsByIds(ctx.db, ids)),
    }),

    onInit(ctx) {
      runtimeOf(ctx).schedule();
    },

    async onEvent(event, ctx) {
      if (event.type !== 'track' || !event.name) return;
      const weight = opts.weights[event.name];
      if (weight === undefined) return;
      const products = productsOf(event.properties);
      if (!products.length) {
        ctx.logger.debug({ messageId: event.messageId, event: event.name }, 'no usable product in event; ignored');
        return;
      }
      let ids = products.map((p) => p.id);
      const runtime = runtimeOf(ctx);
      if (opts.createItemsFromEvents) {
        const changed = await upsertEventItems(ctx.db, products);
        if (changed.length) await runtime.itemsChanged(changed);
      } else {
        const known = await itemsByIds(ctx.db, ids);
        ids = ids.filter((_, k) => known[k] !== null);
      }
      await addInteractions(ctx.db, event.profileId, ids, weight, kindOf(event.name), event.timestamp ?? new Date());
      runtime.historyChanged([event.profileId]);
      runtime.catalog.markActivity();
    },

    async onProfileMerged(merge, ctx) {
      const moved = await foldInteractions(ctx.db, merge.survivorId, merge.mergedId);
      runtimeOf(ctx).historyChanged([merge.survivorId, merge.mergedId]);
      if (moved) runtimeOf(ctx).catalog.markActivity();
    },

    async onExport(profileIds, ctx) {
      return { interactions: (await interactionsOf(ctx.db, profileIds)).flat() };
    },

    async onProfileDeleted(profileIds, ctx) {
      // Erasure: the interactions go in core's delete transaction, then out of every server's memory.
      await ctx.tx.query('DELETE FROM rec_interaction WHERE profile_id = ANY($1::uuid[])', [profileIds]);
      // Sent with the transaction: every server (this one too) drops them when the deletion commits,
      // so no read between this hook and the commit can put them back in a cache.
      for (const payload of chunkPayloads(profileIds, (c) => c.join(','))) await ctx.tx.query('SELECT pg_notify($1, $2)', [CHANNELS.history, payload]);
      runtimeOf(ctx).historyChanged(profileIds);
      runtimeOf(ctx).catalog.markActivity();
    },

    async train(ctx, { onProgress }) {
      return { ...(await trainRecommendations(ctx.db, { ease: opts.ease, keep: opts.keepVersions }, onProgress)) };
    },

    async onShutdown() {
      await runtime?.stop();
    },
  };
});
