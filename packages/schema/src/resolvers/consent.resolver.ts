import { Permission, isGranted, type ProfileRecord } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, FieldResolver, ID, InputType, Field, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { RapportContext } from '../context';
import { ConsentHistoryEntry, ConsentType, PurposeType } from '../types/consent.type';
import { Profile } from '../types/profile.type';

@InputType('PurposeInput')
export class PurposeInput {
  @Field({ description: 'lower case letters, digits, _ and -' }) name: string;
  @Field() description: string;
  @Field() legalBasis: string;
}

@InputType('ConsentInput')
export class ConsentInput {
  @Field(() => ID) profileId: string;
  @Field() purpose: string;
  @Field() granted: boolean;
  @Field(() => Date, { nullable: true, description: 'When the decision lapses (then it no longer grants).' }) expiresAt?: Date | null;
  @Field(() => Date, { nullable: true, description: 'When the person decided; default now.' }) at?: Date | null;
}

/** Purposes and consent decisions. */
@Resolver(() => Profile)
export class ConsentResolver {
  @Query(() => [PurposeType], { description: 'Every purpose data may serve.' })
  purposes(@Ctx() ctx: RapportContext) {
    return ctx.services.consent.purposes();
  }

  @Authorized(Permission.PurposesManage)
  @Mutation(() => PurposeType, { description: 'Creates a purpose or updates its description and legal basis.' })
  definePurpose(@Arg('input') input: PurposeInput, @Ctx() ctx: RapportContext) {
    return ctx.services.consent.definePurpose(input);
  }

  @Authorized(Permission.ConsentWrite)
  @Mutation(() => ConsentType, { description: "Records a person's decision for a purpose; it takes effect on the next request." })
  async setConsent(@Arg('input') input: ConsentInput, @Ctx() ctx: RapportContext) {
    const r = await ctx.services.setConsent(
      input.profileId,
      { purpose: input.purpose, granted: input.granted, source: 'graphql', at: input.at ?? new Date(), expiresAt: input.expiresAt ?? null },
      ctx.caller.name,
    );
    return { ...r, effective: isGranted(r) };
  }

  @FieldResolver(() => [ConsentType], { nullable: true, description: 'The current decision per purpose (purposes never decided are absent).' })
  async consents(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext) {
    return (await ctx.loaders.consents.load(p.id)).map((c) => ({ ...c, effective: isGranted(c) }));
  }

  @FieldResolver(() => [ConsentHistoryEntry], { nullable: true, description: 'Every decision recorded, newest first.' })
  consentHistory(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext) {
    return ctx.loaders.consentHistory.load(p.id);
  }
}
