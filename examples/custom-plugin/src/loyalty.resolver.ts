import { Profile, type RequestContext } from '@rapport/schema';
import { createLoadersKey, type ProfileRecord } from '@rapport/core';
import type DataLoader from 'dataloader';
import { Ctx, Field, FieldResolver, Float, Int, ObjectType, Resolver, Root, registerEnumType } from 'type-graphql';
import type { LoyaltyAccount } from './loyalty-account.entity';
import type { LoyaltyOptions } from './loyalty.plugin';

/** The plugin's request loaders. */
export interface LoyaltyLoaders {
  options: Required<LoyaltyOptions>;
  account: DataLoader<string, LoyaltyAccount | null>;
}

/** Typed at both ends: the plugin provides them per request, the resolver reads them. */
export const loyaltyLoaders = createLoadersKey<LoyaltyLoaders>('loyalty');

/** The tiers, from lifetime revenue. */
export enum LoyaltyTier {
  NONE = 'NONE',
  SILVER = 'SILVER',
  GOLD = 'GOLD',
}
registerEnumType(LoyaltyTier, { name: 'LoyaltyTier', description: 'Loyalty tier from lifetime Order Completed revenue.' });

@ObjectType('LoyaltyStatus')
export class LoyaltyStatus {
  @Field(() => LoyaltyTier) tier: LoyaltyTier;
  @Field(() => Float) lifetimeRevenue: number;
  @Field(() => Int) orders: number;
}

/** Tier for a revenue under the plugin's thresholds. */
export function tierFor(revenue: number, opts: Required<LoyaltyOptions>): LoyaltyTier {
  if (revenue >= opts.goldAt) return LoyaltyTier.GOLD;
  if (revenue >= opts.silverAt) return LoyaltyTier.SILVER;
  return LoyaltyTier.NONE;
}

/** Adds `loyaltyTier` and `loyalty` to the core `Profile` type. */
@Resolver(() => Profile)
export class LoyaltyResolver {
  private account(p: ProfileRecord, ctx: RequestContext): Promise<LoyaltyAccount | null> {
    return loyaltyLoaders.of(ctx).account.load(p.id);
  }

  @FieldResolver(() => LoyaltyTier, { description: 'Loyalty tier (loyalty plugin).' })
  async loyaltyTier(@Root() p: ProfileRecord, @Ctx() ctx: RequestContext): Promise<LoyaltyTier> {
    const a = await this.account(p, ctx);
    return tierFor(a?.lifetimeRevenue ?? 0, loyaltyLoaders.of(ctx).options);
  }

  @FieldResolver(() => LoyaltyStatus, { description: 'Loyalty totals (loyalty plugin).' })
  async loyalty(@Root() p: ProfileRecord, @Ctx() ctx: RequestContext): Promise<LoyaltyStatus> {
    const a = await this.account(p, ctx);
    const revenue = a?.lifetimeRevenue ?? 0;
    return { tier: tierFor(revenue, loyaltyLoaders.of(ctx).options), lifetimeRevenue: revenue, orders: a?.orders ?? 0 };
  }
}
