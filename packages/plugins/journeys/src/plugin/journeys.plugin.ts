import { definePlugin, provide, type PluginContext } from '@rapport/core';
import { CreateJourneys1764400000000 } from './1764400000000-create-journeys';
import { CreateJourneyStages1764500000000 } from './1764500000000-create-journey-stages';
import { JourneyTraitBackfill1764600000000 } from './1764600000000-journey-trait-backfill';
import { JourneyTraitCopy1764700000000 } from './1764700000000-journey-trait-copy';
import { JourneysEventIndexes1764800000000 } from './1764800000000-journeys-event-indexes';
import { DropJourneysEvent1764900000000 } from './1764900000000-drop-journeys-event';
import { AggregatesResolver } from './aggregates.resolver';
import { FunnelResolver } from './funnel.resolver';
import { FunnelProfilesResolver } from './funnel-profiles.resolver';
import { journeysDelivery } from './journeys.delivery';
import { journeysLoaders } from './journeys.loaders';
import { DEFINE_PERMISSION, PURPOSE, READ_PERMISSION, resolveOptions, type JourneysOptions } from './options';
import { createStageRuntime, journeyStagesPoint } from './stage.extension';
import { registerStageJobs } from './stage.jobs';
import { createStageLoaders } from './stage.loaders';
import { deleteStages, exportStages } from './stage.privacy';
import { ProfileJourneyResolver, StageResolver, StageSubscriptionResolver } from './stage.resolver';
import { JourneyBackfillResolver } from './stage-backfill.resolver';

/**
 * Journey analytics over the events Rapport stores, read in place through the host's event relation: funnels,
 * retention, lifecycle and paths, and journey stages kept current by durable delivery (from the start of the outbox,
 * loading only the events the journeys' rules read). Every aggregate counts only people whose consent allows
 * `analytics`, and withholds cells of fewer than `k` people. See docs/journeys.md.
 */
export const journeysPlugin = definePlugin((options: JourneysOptions) => {
  const opts = resolveOptions(options);
  const stages = createStageRuntime();
  return {
    name: 'journeys',
    version: '0.1.0',
    compatibility: '^0.1.0',
    migrations: [CreateJourneys1764400000000, CreateJourneyStages1764500000000, JourneyTraitBackfill1764600000000, JourneyTraitCopy1764700000000, JourneysEventIndexes1764800000000, DropJourneysEvent1764900000000],
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
    delivery: journeysDelivery(),

    async onInit(ctx: PluginContext) {
      await stages.init(ctx);
      await registerStageJobs(ctx, opts.stageRecheckMs, opts.traitCopyChunk);
    },
    onShutdown: () => stages.close(),

    loaders: (ctx: PluginContext) => journeysLoaders.provide({ opts, plugin: ctx, stages: createStageLoaders(ctx) }),

    status: () => ({ k: opts.k }),

    // Data subject requests: what the plugin derived from the person's events (their events are core's).
    onExport: (profileIds, ctx) => exportStages(ctx.db, profileIds),
    async onProfileDeleted(profileIds, ctx) {
      await deleteStages(ctx.tx, profileIds);
    },
  };
});
