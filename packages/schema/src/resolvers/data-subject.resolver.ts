import { Permission } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Resolver } from 'type-graphql';
import type { RapportContext } from '../context';
import { JSONObjectScalar } from '../scalars';

@ObjectType('DeleteProfileResult')
export class DeleteProfileResult {
  @Field(() => [ID], { description: 'The live profile and every profile merged into it.' }) profileIds: string[];
  @Field(() => Int, { description: 'Identities added to the suppression list (stored as hashes).' }) suppressed: number;
}

/** Data subject requests: access (export) and erasure (delete). Both are audited. */
@Resolver()
export class DataSubjectResolver {
  @Authorized(Permission.ProfilesErase)
  @Mutation(() => JSONObjectScalar, { description: 'All data held on a person (profile, identities, events, merges, consents, plugin data), as JSON.' })
  exportProfile(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext) {
    return ctx.services.exportProfile(id, { keyId: ctx.caller.keyId, name: ctx.caller.name });
  }

  @Authorized(Permission.ProfilesErase)
  @Mutation(() => DeleteProfileResult, { description: 'Deletes a person for good (plugins included); future events with their identifiers are dropped.' })
  async deleteProfile(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext) {
    const r = await ctx.services.deleteProfile(id, { keyId: ctx.caller.keyId, name: ctx.caller.name });
    ctx.logger.info({ profiles: r.profileIds.length, by: ctx.caller.keyId }, 'profile deleted (data subject request)');
    return r;
  }
}
