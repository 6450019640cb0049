import { definePlugin, type PluginContext } from '@rapport/core';
import { CreateJourneys1764400000000 } from './1764400000000-create-journeys';
import { AggregatesResolver } from './aggregates.resolver';
import { FunnelResolver } from './funnel.resolver';
import { createDeliveryHandler } from './journeys.delivery';
import { journeysLoaders } from './journeys.loaders';
import { PURPOSE, READ_PERMISSION, resolveOptions, type JourneysOptions } from './options';

/**
 * Journey analytics over the events Rapport stores: a compact copy of them (filled by durable delivery from the
 * start of the outbox, kept in step with merges, unmerges and erasure) and the `funnel` query over it. Every
 * aggregate counts only people whose consent allows `analytics`, and withholds cells of fewer than `k` people.
 * See docs/journeys.md.
 */
export const journeysPlugin = definePlugin((options: JourneysOptions) => {
  const opts = resolveOptions(options);
  return {
    name: 'journeys',
    version: '0.1.0',
    compatibility: '^0.1.0',
    migrations: [CreateJourneys1764400000000],
    resolvers: [FunnelResolver, AggregatesResolver],
    purposes: [{ name: PURPOSE, description: 'Measure and improve the product from aggregate behaviour.', legalBasis: 'legitimate_interest' }],
    permissions: { admin: [READ_PERMISSION] },

    delivery: { kinds: ['event', 'merge', 'unmerge'], from: 'history', batchSize: 500, handle: createDeliveryHandler(opts) },

    loaders: (ctx: PluginContext) => journeysLoaders.provide({ opts, plugin: ctx }),

    status: async (ctx: PluginContext) => {
      const [r] = await ctx.db.query<{ n: string }>("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'journeys_event'");
      return { k: opts.k, storedEventsEstimate: Math.max(0, Number(r?.n ?? 0)) };
    },

    // Data subject requests: the events the store holds on the person.
    async onExport(profileIds, ctx) {
      return ctx.db.query(
        `SELECT event_id, name, to_timestamp(ts / 1000.0) AS timestamp, props FROM journeys_event
          WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[]) ORDER BY ts, event_id`,
        [profileIds],
      );
    },
    async onProfileDeleted(profileIds, ctx) {
      await ctx.tx.query('DELETE FROM journeys_event WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[])', [profileIds]);
    },
  };
});
