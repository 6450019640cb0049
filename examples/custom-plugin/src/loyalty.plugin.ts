import { definePlugin, type PluginContext } from '@rapport/core';
import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { CreateLoyaltyAccount1763900000000 } from './1763900000000-create-loyalty-account';
import { LoyaltyAccount } from './loyalty-account.entity';
import { LoyaltyResolver } from './loyalty.resolver';
import { orderRevenue } from './order-revenue';

/** Thresholds of lifetime revenue for each tier. */
export interface LoyaltyOptions {
  silverAt?: number;
  goldAt?: number;
}

/**
 * Loyalty tiers from `Order Completed` events, exposed as `Profile.loyaltyTier`.
 * Shows each part of the plugin contract: an entity and its migration, a field resolver on the
 * core Profile, a request-scoped DataLoader, and the onEvent and onProfileMerged hooks.
 */
export const loyaltyPlugin = definePlugin((options: LoyaltyOptions) => {
  const opts: Required<LoyaltyOptions> = { silverAt: options.silverAt ?? 100, goldAt: options.goldAt ?? 1000 };
  return {
    name: 'loyalty',
    version: '0.1.0',
    compatibility: '^0.1.0',
    entities: [LoyaltyAccount],
    migrations: [CreateLoyaltyAccount1763900000000],
    resolvers: [LoyaltyResolver],
    fields: [
      { type: 'Profile', field: 'loyaltyTier', purposes: ['personalization'] },
      { type: 'Profile', field: 'loyalty', purposes: ['personalization'] },
    ],

    loaders: (ctx: PluginContext) => ({
      options: opts,
      // One SELECT for every profile a query asks about.
      account: new DataLoader<string, LoyaltyAccount | null>(async (ids) => {
        const rows = await ctx.db.dataSource.getRepository(LoyaltyAccount).findBy({ profileId: In([...ids]) });
        const by = new Map(rows.map((r) => [r.profileId, r]));
        return ids.map((id) => by.get(id) ?? null);
      }),
    }),

    async onEvent(event, ctx) {
      if (event.type !== 'track' || event.name !== 'Order Completed') return;
      const revenue = orderRevenue(event.properties);
      await ctx.db.query(
        `INSERT INTO loyalty_account (profile_id, lifetime_revenue, orders) VALUES ($1, $2, 1)
         ON CONFLICT (profile_id) DO UPDATE SET lifetime_revenue = loyalty_account.lifetime_revenue + EXCLUDED.lifetime_revenue,
                                                orders = loyalty_account.orders + 1, updated_at = now()`,
        [event.profileId, revenue],
      );
    },

    // Data subject requests: what the plugin holds on a person, and erasing it with them.
    async onExport(profileIds, ctx) {
      return ctx.db.query('SELECT * FROM loyalty_account WHERE profile_id = ANY($1::uuid[])', [profileIds]);
    },
    async onProfileDeleted(profileIds, ctx) {
      await ctx.tx.query('DELETE FROM loyalty_account WHERE profile_id = ANY($1::uuid[])', [profileIds]);
    },

    async onProfileMerged(merge, ctx) {
      // The survivor inherits the merged profile's totals.
      await ctx.db.transaction(async (tx) => {
        const [gone] = await tx.query<{ lifetime_revenue: string; orders: number }>(
          'DELETE FROM loyalty_account WHERE profile_id = $1 RETURNING lifetime_revenue, orders',
          [merge.mergedId],
        );
        if (!gone) return;
        await tx.query(
          `INSERT INTO loyalty_account (profile_id, lifetime_revenue, orders) VALUES ($1, $2, $3)
           ON CONFLICT (profile_id) DO UPDATE SET lifetime_revenue = loyalty_account.lifetime_revenue + EXCLUDED.lifetime_revenue,
                                                  orders = loyalty_account.orders + EXCLUDED.orders, updated_at = now()`,
          [merge.survivorId, gone.lifetime_revenue, gone.orders],
        );
      });
    },
  };
});
