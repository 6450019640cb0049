/**
 * GraphQL of journey stages: `defineJourney`, `deleteJourney`, `journeyDefinitions`, `stageCounts`, `Profile.journey`
 * and the `journeyStageChanged` subscription.
 */
import { ValidationError, type ProfileRecord } from '@rapport/core';
import { Profile, subscriptionStream, type RequestContext, type SubscriptionSink } from '@rapport/schema';
import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { checkPropertyKeys, journeyPropertyUses } from './property-keys';
import { checkJourney, type ConditionSpec } from './journey-definition';
import { loadJourneys, saveJourney, type StoredJourney } from './journey-definition.store';
import { journeysLoaders } from './journeys.loaders';
import { DEFINE_PERMISSION, PURPOSE, READ_PERMISSION } from './options';
import { publish } from './retention.result';
import { BACKFILL_JOB, CHANGE_LOG_DAYS } from './stage.jobs';
import { stageRuntimeOf } from './stage.extension';
import { stageKey } from './stage.loaders';
import { deleteJourneyStages, lockStages, type StageChange } from './stage.service';
import { addedTraitKeys, planTraitCopy } from './stage.traits';
import { JourneyDefinitionInput, JourneyDefinitionType, JourneyStageChangeType, ProfileJourneyType, StageCountsType, type JourneyConditionType } from './stage.types';

function conditionOut(c: ConditionSpec): JourneyConditionType {
  const none = {
    event: null, where: null, atLeast: null, withinSeconds: null, absent: null, trait: null, equals: null, greaterThan: null,
    lessThan: null, in: null, exists: null, notEquals: null, anyOf: null,
  };
  if (c.kind === 'anyOf') return { ...none, anyOf: c.groups.map((g) => ({ when: g.map(conditionOut) })) };
  if (c.kind === 'trait') {
    // Definitions stored before lessThan, in, exists and notEquals lack them.
    return {
      ...none, trait: c.trait, equals: c.equals, greaterThan: c.greaterThan,
      lessThan: c.lessThan ?? null, in: c.in ?? null, exists: c.exists ?? null, notEquals: c.notEquals ?? null,
    };
  }
  return { ...none, event: c.event, where: c.where, atLeast: c.absent ? null : c.atLeast, withinSeconds: c.withinMs === null ? null : c.withinMs / 1000, absent: c.absent };
}

function definitionOut(j: StoredJourney): JourneyDefinitionType {
  return {
    name: j.name, version: j.version, ready: j.ready, definedAt: j.definedAt, updatedAt: j.updatedAt,
    stages: j.stages.map((s) => ({ name: s.name, when: s.when.map(conditionOut) })),
  };
}

/** Refuses a request that does not act for analytics, naming the field that needs it. */
function actsForAnalytics(ctx: RequestContext, field: string): void {
  if (ctx.purpose !== PURPOSE) {
    throw new ValidationError('purpose', 'actsFor', `${field} serves ${PURPOSE}: send X-Rapport-Purpose: ${PURPOSE} (or use a key whose only purpose it is)`);
  }
}

async function journeyNamed(ctx: RequestContext, field: string, name: string): Promise<StoredJourney> {
  const found = (await journeysLoaders.of(ctx).stages.journeys()).find((j) => j.name === name);
  if (!found) throw new ValidationError(field, 'exists', `no journey is named ${JSON.stringify(String(name).slice(0, 80))}: define it with defineJourney`);
  return found;
}

@Resolver()
export class StageResolver {
  @Authorized(DEFINE_PERMISSION)
  @Mutation(() => JourneyDefinitionType, {
    description:
      'Defines a journey, or replaces the stages of one with the same name (journeys plugin). Everyone known is then evaluated '
      + 'in the background (`ready` turns true when done). A definition naming a trait key no journey read before copies its '
      + 'current values first, in the background too (`backfill`). See docs/journeys.md#stages.',
  })
  async defineJourney(@Ctx() ctx: RequestContext, @Arg('input', () => JourneyDefinitionInput) input: JourneyDefinitionInput): Promise<JourneyDefinitionType> {
    const spec = checkJourney(input, 'input');
    const { plugin, opts } = journeysLoaders.of(ctx);
    checkPropertyKeys(opts.properties, journeyPropertyUses(spec, 'input'));
    const stored = await plugin.db.transaction(async (tx) => {
      // Every trait key the definition names is checked here (the policy may have changed since another journey named
      // it); the current values of those no journey read before are copied by the backfill job (stage.traits.ts).
      const named = addedTraitKeys(spec, [], 'input');
      const added = addedTraitKeys(spec, await loadJourneys(tx), 'input');
      const saved = await saveJourney(tx, spec);
      await planTraitCopy(tx, plugin, ctx, spec.name, named, added);
      return saved;
    });
    await plugin.jobs.send(BACKFILL_JOB, { journey: spec.name }, { singletonKey: spec.name });
    return definitionOut(stored);
  }

  @Authorized(DEFINE_PERMISSION)
  @Mutation(() => Boolean, { description: 'Deletes a journey: everyone in it leaves it (a stage change to none), and its stages and history go.' })
  async deleteJourney(@Ctx() ctx: RequestContext, @Arg('name', () => String) name: string): Promise<boolean> {
    await journeyNamed(ctx, 'name', name);
    const { plugin } = journeysLoaders.of(ctx);
    await plugin.db.transaction(async (tx) => {
      await lockStages(tx);
      await tx.query('DELETE FROM journeys_definition WHERE name = $1', [name]);
      await deleteJourneyStages(tx, plugin, name);
    });
    return true;
  }

  @Authorized(READ_PERMISSION)
  @Query(() => [JourneyDefinitionType], { description: 'The journeys defined, by name (journeys plugin).' })
  async journeyDefinitions(@Ctx() ctx: RequestContext): Promise<JourneyDefinitionType[]> {
    return (await journeysLoaders.of(ctx).stages.journeys()).map(definitionOut);
  }

  @Authorized(READ_PERMISSION)
  @Query(() => StageCountsType, {
    description:
      'People in each stage of a journey now (journeys plugin). Acts for analytics; counts only people who allow it; '
      + 'stages of 1 to k-1 people are withheld.',
  })
  async stageCounts(@Ctx() ctx: RequestContext, @Arg('journey', () => String) journey: string): Promise<StageCountsType> {
    actsForAnalytics(ctx, 'stageCounts');
    const def = await journeyNamed(ctx, 'journey', journey);
    const { plugin, opts } = journeysLoaders.of(ctx);
    const rows = await plugin.db.query<{ stage: string; n: number }>(
      `SELECT s.stage, count(*)::int AS n FROM journeys_stage s WHERE s.journey = $1 AND ${plugin.consent.sql('s.profile_id', PURPOSE)} GROUP BY s.stage`,
      [journey],
    );
    const by = new Map(rows.map((r) => [r.stage, r.n]));
    return {
      journey, k: opts.k,
      stages: def.stages.map((s, i) => {
        const people = publish(by.get(s.name) ?? 0, opts.k);
        return { stage: s.name, index: i + 1, people, suppressed: people === null };
      }),
    };
  }
}

/** Adds `journey(name)` to the core `Profile` type. */
@Resolver(() => Profile)
export class ProfileJourneyResolver {
  @FieldResolver(() => ProfileJourneyType, {
    nullable: true,
    description:
      "The person's current stage in a journey and the stages they went through (journeys plugin); null when they are in no stage. "
      + 'Serves analytics: only people who allow it are tracked.',
  })
  async journey(@Root() p: ProfileRecord, @Ctx() ctx: RequestContext, @Arg('name', () => String) name: string): Promise<ProfileJourneyType | null> {
    await journeyNamed(ctx, 'name', name);
    return journeysLoaders.of(ctx).stages.journeyOf.load(stageKey(name, p.id));
  }
}

/** Most missed changes a subscription resuming `after` a change id is sent before the live ones. */
export const MAX_RESUMED_CHANGES = 500;

/**
 * The changes of one journey for one subscriber (the subscription's context: its key, purpose and loaders): live ones,
 * and with `after`, first those logged after that change id (a client resuming after a reconnect misses nothing the
 * log keeps, and gets nothing twice). The live watch starts before the log is read and holds what it hears until then.
 */
async function stageChanges(ctx: RequestContext, journey: string, after: string | null): Promise<AsyncIterable<StageChange>> {
  actsForAnalytics(ctx, 'journeyStageChanged');
  await journeyNamed(ctx, 'journey', journey);
  if (after !== null && !/^\d{1,18}$/.test(after)) {
    throw new ValidationError('after', 'changeId', `the id of a JourneyStageChange received earlier (digits), not ${JSON.stringify(after.slice(0, 40))}`);
  }
  const runtime = stageRuntimeOf(journeysLoaders.of(ctx).plugin);
  if (after === null) return subscriptionStream<StageChange>((sink) => runtime.watch(journey, (changes) => sink.push(...changes)));
  // The live watch first, holding what it hears, then one read of the log: nothing commits unseen in between.
  let sink: SubscriptionSink<StageChange> | null = null;
  const held: StageChange[] = [];
  // Ids only grow: what the log or the live watch already sent is not sent again.
  let last = BigInt(after);
  const send = (changes: StageChange[]) => {
    const fresh = changes.filter((c) => BigInt(c.id) > last);
    if (fresh.length === 0) return;
    last = BigInt(fresh.at(-1)!.id);
    sink!.push(...fresh);
  };
  const stop = runtime.watch(journey, (changes) => (sink ? send(changes) : held.push(...changes)));
  let missed: StageChange[];
  try {
    missed = await runtime.missed(journey, after, MAX_RESUMED_CHANGES + 1);
  } catch (err) {
    stop();
    throw err;
  }
  if (missed.length > MAX_RESUMED_CHANGES) {
    stop();
    throw new ValidationError('after', 'resumeLimit', `more than ${MAX_RESUMED_CHANGES} changes of "${journey.slice(0, 80)}" were logged after ${after}: `
      + 'subscribe without `after` and read the current stages (stageCounts, Profile.journey) instead');
  }
  return subscriptionStream<StageChange>((s) => {
    sink = s;
    send(missed);
    send(held.splice(0));
    return stop;
  });
}

/** `journeyStageChanged(journey)`, and the person behind a change. */
@Resolver(() => JourneyStageChangeType)
export class StageSubscriptionResolver {
  @Authorized(READ_PERMISSION)
  @Subscription(() => JourneyStageChangeType, {
    description:
      'Stage changes of a journey as they commit, in any server process (journeys plugin): over WebSocket (graphql-transport-ws on '
      + '/graphql). Acts for analytics, needs journeys:read, and announces only people whose consent allows analytics. '
      + 'See docs/journeys.md#subscribing-to-stage-changes.',
    subscribe: ({ context, args }) => stageChanges(context as RequestContext, String(args.journey), args.after == null ? null : String(args.after)),
  })
  journeyStageChanged(
    @Root() change: StageChange,
    @Arg('journey', () => String) _journey: string,
    @Arg('after', () => ID, {
      nullable: true,
      description: `Resume after this change id (a JourneyStageChange.id received earlier): the changes logged since (kept ${CHANGE_LOG_DAYS} days, at most ${MAX_RESUMED_CHANGES}) come first, then the live ones, none twice.`,
    }) _after?: string | null,
  ): JourneyStageChangeType {
    return {
      id: change.id, journey: change.journey, profileId: change.profileId, fromStage: change.fromStage, toStage: change.toStage,
      reason: change.reason, enteredAt: change.toStage === null ? null : change.changedAt, changedAt: change.changedAt,
    };
  }

  @FieldResolver(() => Profile, {
    nullable: true,
    description: 'The person, as `profile(id:)` returns them (a merged-away person: the profile they are part of now); needs profiles:read.',
  })
  async profile(@Root() change: JourneyStageChangeType, @Ctx() ctx: RequestContext): Promise<Profile | null> {
    const [p] = await ctx.profilesById([change.profileId]);
    return p ?? null;
  }
}
