import { Permission, type MatchCandidateRecord, type ProfileRecord } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import type { RapportContext } from '../context';
import { MatchCandidateConnection, MatchCandidateType, MergeDecision } from '../types/match-candidate.type';
import { MergeType } from '../types/merge.type';
import { toConnection } from '../types/page-info.type';
import { Profile } from '../types/profile.type';

type CandidateOut = MatchCandidateRecord & { profileAId: string; profileBId: string };
const toType = (c: MatchCandidateRecord): CandidateOut => ({ ...c, profileAId: c.profileA, profileBId: c.profileB });

/** Probabilistic matches, the review queue, manual merges and unmerges. */
@Resolver(() => MatchCandidateType)
export class IdentityResolutionResolver {
  @Authorized(Permission.ProfilesRead)
  @Query(() => [MatchCandidateType], { description: 'Scored candidates involving a profile, most probable first.' })
  async matchCandidates(@Arg('profileId', () => ID) profileId: string, @Ctx() ctx: RapportContext): Promise<CandidateOut[]> {
    return (await ctx.services.resolution.candidatesOf(profileId)).map(toType);
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => MatchCandidateConnection, { description: 'Pending candidates (between the review and auto-merge thresholds), most probable first.' })
  async reviewQueue(
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RapportContext,
  ): Promise<ReturnType<typeof toConnection<CandidateOut>>> {
    const page = await ctx.services.resolution.reviewQueue({ first, after });
    return toConnection({ ...page, nodes: page.nodes.map(toType) });
  }

  @FieldResolver(() => Profile, { nullable: true })
  profileA(@Root() c: MatchCandidateRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.profile.load(c.profileA);
  }

  @FieldResolver(() => Profile, { nullable: true })
  profileB(@Root() c: MatchCandidateRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.profile.load(c.profileB);
  }

  @Authorized(Permission.ProfilesMerge)
  @Mutation(() => MatchCandidateType, { description: 'Decides a pending candidate. If two people decide at once, one wins and the other gets CONFLICT.' })
  async resolveCandidate(@Arg('id', () => ID) id: string, @Arg('decision', () => MergeDecision) decision: MergeDecision, @Ctx() ctx: RapportContext): Promise<CandidateOut> {
    const c = await ctx.services.resolution.resolveCandidate(id, decision, ctx.caller.name);
    ctx.logger.info({ candidate: id, decision, by: ctx.caller.keyId }, 'match candidate resolved');
    return toType({ ...c, status: decision === MergeDecision.MERGE ? 'merged' : 'rejected' });
  }

  @Authorized(Permission.ProfilesMerge)
  @Mutation(() => Profile, { description: 'Merges profiles by hand into the oldest of them; returns the survivor.' })
  async mergeProfiles(@Arg('ids', () => [ID]) ids: string[], @Arg('reason') reason: string, @Ctx() ctx: RapportContext): Promise<ProfileRecord | null> {
    const r = await ctx.services.mergeProfiles(ids, reason, ctx.caller.name);
    ctx.logger.info({ survivor: r.survivorId, merged: r.mergedIds, by: ctx.caller.keyId }, 'profiles merged by hand');
    return (await ctx.services.profiles.byIds([r.survivorId]))[0];
  }

  @Authorized(Permission.ProfilesMerge)
  @Mutation(() => Profile, { description: 'Undoes the merge of this (merged-away) profile: it is live again with its own identities, events and traits.' })
  async unmergeProfile(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext): Promise<ProfileRecord | null> {
    const r = await ctx.services.unmergeProfile(id, ctx.caller.name);
    ctx.logger.info({ restored: r.restoredId, from: r.survivorId, by: ctx.caller.keyId }, 'profile unmerged');
    return (await ctx.services.profiles.byIds([r.restoredId]))[0];
  }
}

/** Totals of a resolution run. */
@ObjectType('ResolveSummary')
export class ResolveSummaryType {
  @Field(() => ID) runId: string;
  @Field(() => Int) profiles: number;
  @Field(() => Int, { description: 'Pairs compared after blocking (far below n^2).' }) candidatePairs: number;
  @Field(() => Int, { description: 'Profiles merged away at or above the auto-merge threshold.' }) merged: number;
  @Field(() => Int, { description: 'Pairs newly queued for review.' }) queued: number;
  @Field(() => Float) seconds: number;
  @Field({ description: 'True when an unfinished run was resumed with its model.' }) resumed: boolean;
}

/** Runs batch resolution from GraphQL (the CLI `rapport resolve` does the same with a progress bar). */
@Resolver()
export class ResolveRunResolver {
  @Authorized(Permission.ProfilesMerge)
  @Mutation(() => ResolveSummaryType, { description: 'Trains the match model on all profiles and resolves them: merges sure pairs, queues likely ones.' })
  runIdentityResolution(@Arg('retrain', { defaultValue: false }) retrain: boolean, @Ctx() ctx: RapportContext) {
    return ctx.services.resolution.resolveAll({ retrain, actor: ctx.caller.name });
  }
}

/** `Profile.mergeHistory`: every merge into or out of this profile, undone ones included. */
@Resolver(() => Profile)
export class MergeHistoryResolver {
  @FieldResolver(() => [MergeType], { nullable: true, description: 'Every merge into or out of this profile, newest first, undone ones included.' })
  mergeHistory(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.mergeHistory.load(p.id);
  }
}
