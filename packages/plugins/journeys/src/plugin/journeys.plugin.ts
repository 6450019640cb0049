import { definePlugin, provide, type PluginContext } from '@rapport/core';
import { CreateJourneys1764400000000 } from './1764400000000-create-journeys';
import { CreateJourneyStages1764500000000 } from './1764500000000-create-journey-stages';
import { JourneyTraitBackfill1764600000000 } from './1764600000000-journey-trait-backfill';
import { JourneyTraitCopy1764700000000 } from './1764700000000-journey-trait-copy';
import { JourneysEventIndexes1764800000000 } from './1764800000000-journeys-event-indexes';
import { AggregatesResolver } from './aggregates.resolver';
import { FunnelResolver } from './funnel.resolver';
import { FunnelProfilesResolver } from './funnel-profiles.resolver';
import { createDeliveryHandler } from './journeys.delivery';
import { journeysLoaders } from './journeys.loaders';
import { DEFINE_PERMISSION, PURPOSE, READ_PERMISSION, resolveOptions, type JourneysOptions } from './options';
import { createStageRuntime, journeyStagesPoint } from './stage.extension';
import { registerStageJobs } from './stage.jobs';
import { createStageLoaders } from './stage.loaders';
import { deleteStages, exportStages } from './stage.privacy';
import { ProfileJourneyResolver, StageResolver, StageSubscriptionResolver } from './stage.resolver';
import { JourneyBackfillResolver } from './stage-backfill.resolver';

/**
 * Journey analytics over the events Rapport stores: a compact copy of them (filled by durable delivery from the
 * start of the outbox, kept in step with merges, unmerges and erasure) and the `funnel` query over it. Every
 * aggregate counts only people whose consent allows `analytics`, and withholds cells of fewer than `k` people.
 * See docs/journeys.md.
 */
export const journeysPlugin = definePlugin((options: JourneysOptions) => {
  const opts = resolveOptions(options);
  const stages = createStageRuntime();
  return {
    name: 'journeys',
    version: '0.1.0',
    compatibility: '^0.1.0',
    migrations: [CreateJourneys1764400000000, CreateJourneyStages1764500000000, JourneyTraitBackfill1764600000000, JourneyTraitCopy1764700000000, JourneysEventIndexes1764800000000],
    resolvers: [FunnelResolver, FunnelProfilesResolver, AggregatesResolver, StageResolver, ProfileJourneyResolver, JourneyBackfillResolver, StageSubscriptionResolver],
    purposes: [{ name: PURPOSE, description: 'Measure and improve the product from aggregate behaviour.', legalBasis: 'legitimate_interest' }],
    permissions: { admin: [READ_PERMISSION, DEFINE_PERMISSION] },
    // A person's stage is derived from their events and traits, and serves analytics (docs/journeys.md#stages).
    // So is each stage field of a change the `journeyStageChanged` subscription announces, decided for its person.
    fields: [
      { type: 'Profile', field: 'journey', purposes: [PURPOSE], derivesFrom: ['events'] },
      ...['fromStage', 'toStage', 'reason', 'enteredAt', 'changedAt'].map((field) => ({ type: 'JourneyStageChange', field, purposes: [PURPOSE], derivesFrom: ['events'] })),
    ],
    extensionPoints: [provide(journeyStagesPoint, stages.api)],

    // `consent`: a refusal of analytics stops stage tracking at once, a grant restarts it.
    // Only the event fields the stage rules read are loaded into Node; the store copies events in SQL (ctx.events.sql).
    delivery: {
      kinds: ['event', 'merge', 'unmerge', 'consent'], from: 'history', batchSize: 500,
      eventFields: ['originProfileId', 'traits'], handle: createDeliveryHandler(opts),
    },

    async onInit(ctx: PluginContext) {
      await stages.init(ctx);
      await registerStageJobs(ctx, opts.stageRecheckMs, opts.traitCopyChunk);
    },
    onShutdown: () => stages.close(),

    loaders: (ctx: PluginContext) => journeysLoaders.provide({ opts, plugin: ctx, stages: createStageLoaders(ctx) }),

    status: async (ctx: PluginContext) => {
      const [r] = await ctx.db.query<{ n: string }>("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'journeys_event'");
      return { k: opts.k, storedEventsEstimate: Math.max(0, Number(r?.n ?? 0)) };
    },

    // Data subject requests: the events the store holds on the person.
    async onExport(profileIds, ctx) {
      const events = await ctx.db.query(
        `SELECT event_id, name, to_timestamp(ts / 1000.0) AS timestamp, props FROM journeys_event
          WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[]) ORDER BY ts, event_id`,
        [profileIds],
      );
      return { events, ...(await exportStages(ctx.db, profileIds)) };
    },
    async onProfileDeleted(profileIds, ctx) {
      await ctx.tx.query('DELETE FROM journeys_event WHERE profile_id = ANY($1::uuid[]) OR origin_profile_id = ANY($1::uuid[])', [profileIds]);
      await deleteStages(ctx.tx, profileIds);
    },
  };
});
