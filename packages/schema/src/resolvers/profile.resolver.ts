import { Permission, type ProfileRecord, MAX_EVENTS_PAGE, checkFirst } from '@rapport/core/internal';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Extensions, FieldResolver, ID, Info, Int, Query, Resolver, Root } from 'type-graphql';
import { selectedEventFields } from '../loaders/event-selection';
import { primeBundle, profileReadPlan } from '../loaders/profile-read-plan';
import { guardFilter, guardIdentityLookup } from '../guard/lookup-guard';
import type { RapportContext } from '../context';
import { ProfileFilterInput } from '../inputs/profile-filter.input';
import { JSONObjectScalar, JSONScalar } from '../scalars';
import { EventConnection } from '../types/event.type';
import { IdentityType } from '../types/identity.type';
import { MergeType } from '../types/merge.type';
import { toConnection } from '../types/page-info.type';
import { Profile, ProfileConnection } from '../types/profile.type';

/** Reads of unified profiles, and the core fields of `Profile`. */
@Resolver(() => Profile)
export class ProfileResolver {
  @Authorized(Permission.ProfilesRead)
  @Query(() => Profile, { nullable: true, description: 'A profile by id. A merged-away id returns the profile it was merged into.' })
  async profile(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext, @Info() info: GraphQLResolveInfo): Promise<ProfileRecord | null> {
    // Identities and the first events page, when asked, come in the profile's own statement.
    const plan = profileReadPlan(info);
    if (!plan) return ctx.loaders.profile.load(id);
    const [bundle] = await ctx.services.profileBundles.read([id], plan);
    if (!bundle) return null;
    primeBundle(ctx.loaders, id, bundle, plan);
    return bundle.profile;
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => Profile, { nullable: true, description: 'The profile holding an identity (value normalised as at ingestion).' })
  async profileByIdentity(@Arg('type') type: string, @Arg('value') value: string, @Ctx() ctx: RapportContext): Promise<ProfileRecord | null> {
    return guardIdentityLookup(type, () => ctx.services.profiles.byIdentity(type, value), ctx);
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => ProfileConnection, { description: 'Live profiles, oldest first (Relay connection).' })
  async profiles(
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => ProfileFilterInput, { nullable: true }) filter: ProfileFilterInput | null,
    @Ctx() ctx: RapportContext,
  ): Promise<ProfileConnection> {
    const page = await ctx.services.profiles.list({ first, after, filter: filter ? guardFilter(filter, ctx) : undefined });
    for (const p of page.nodes) ctx.loaders.profile.prime(p.id, p);
    return toConnection(page) as unknown as ProfileConnection;
  }

  @FieldResolver(() => [IdentityType], { nullable: true, description: 'Identities of this person (null when a field policy denies them).' })
  identities(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.identities.load(p.id);
  }

  @FieldResolver(() => JSONObjectScalar, { description: 'Every trait, as one JSON object.' })
  traits(@Root() p: ProfileRecord): Record<string, unknown> {
    return p.traits;
  }

  @FieldResolver(() => JSONScalar, { nullable: true, description: 'One trait by key.' })
  trait(@Root() p: ProfileRecord, @Arg('key') key: string): unknown {
    return Object.prototype.hasOwnProperty.call(p.traits, key) ? p.traits[key] : null;
  }

  @FieldResolver(() => EventConnection, { nullable: true, description: 'Events of this person, newest first (null when a field policy denies them).' })
  async events(
    @Root() p: ProfileRecord,
    @Ctx() ctx: RapportContext,
    @Arg('first', () => Int, { defaultValue: 10 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('type', () => String, { nullable: true }) type: string | null,
    @Arg('name', () => String, { nullable: true }) name: string | null,
    @Info() info: GraphQLResolveInfo,
  ) {
    checkFirst(first, MAX_EVENTS_PAGE);
    const fields = selectedEventFields(info);
    return toConnection(await ctx.loaders.events.load({ profileId: p.id, args: { first, after, type, name, fields } }));
  }

  @Extensions({ derivesFrom: ['events'] })
  @FieldResolver(() => Date, { nullable: true, description: 'Timestamp of the oldest event.' })
  async firstSeenAt(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext): Promise<Date | null> {
    return (await ctx.loaders.activity.load(p.id)).firstSeenAt;
  }

  @Extensions({ derivesFrom: ['events'] })
  @FieldResolver(() => Date, { nullable: true, description: 'Timestamp of the newest event.' })
  async lastSeenAt(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext): Promise<Date | null> {
    return (await ctx.loaders.activity.load(p.id)).lastSeenAt;
  }

  @FieldResolver(() => [MergeType], { nullable: true, description: 'Merges into this profile, newest first.' })
  mergedFrom(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.merges.load(p.id);
  }
}

