import { definePlugin, type Change, type PluginContext, type SqlRunner } from '@rapport/core';
import DataLoader from 'dataloader';
import { CreateLoyaltyAccount1763900000000 } from './1763900000000-create-loyalty-account';
import { LoyaltyOrders1763900000001 } from './1763900000001-loyalty-orders';
import { LoyaltyAccount } from './loyalty-account.entity';
import { loyaltyLoaders, LoyaltyResolver } from './loyalty.resolver';
import { orderRevenue } from './order-revenue';

/** Thresholds of lifetime revenue for each tier. */
export interface LoyaltyOptions {
  silverAt?: number;
  goldAt?: number;
}

/** Adds `amount` revenue and `orders` orders to a profile's account. */
async function addToAccount(tx: SqlRunner, profileId: string, amount: number | string, orders: number): Promise<void> {
  await tx.query(
    `INSERT INTO loyalty_account (profile_id, lifetime_revenue, orders) VALUES ($1, $2, $3)
     ON CONFLICT (profile_id) DO UPDATE SET lifetime_revenue = loyalty_account.lifetime_revenue + EXCLUDED.lifetime_revenue,
                                            orders = loyalty_account.orders + EXCLUDED.orders, updated_at = now()`,
    [profileId, amount, orders],
  );
}

/**
 * Handles a batch of delivered changes in one transaction, its people held against erasure: an
 * `Order Completed` event is recorded under its event id and counted only if it was not already (a
 * redelivered batch counts nothing twice); a merge moves the merged profile's orders and totals to
 * the survivor.
 */
async function applyChanges(changes: Change[], ctx: PluginContext): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    // First, hold the batch's people against erasure: someone erased since the batch was loaded is skipped, and an
    // erasure that starts now waits for this transaction, then deletes what it wrote (docs/plugins.md).
    const present = await ctx.profiles.hold(tx, changes.flatMap((c) => (c.profileId ? [c.profileId] : [])));
    for (const c of changes) {
      if (c.profileId !== null && !present.has(c.profileId)) continue;
      if (c.kind === 'event' && c.event.type === 'track' && c.event.name === 'Order Completed') {
        const revenue = orderRevenue(c.event.properties);
        const fresh = await tx.query('INSERT INTO loyalty_order (event_id, profile_id, revenue) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING event_id', [
          c.event.id, c.event.profileId, revenue,
        ]);
        if (fresh.length) await addToAccount(tx, c.event.profileId, revenue, 1);
      } else if (c.kind === 'merge') {
        // The survivor inherits the merged profile's orders and totals (a second delivery finds nothing left to move).
        await tx.query('UPDATE loyalty_order SET profile_id = $1 WHERE profile_id = $2', [c.merge.survivorId, c.merge.mergedId]);
        const [gone] = await tx.query<{ lifetime_revenue: string; orders: number }>('DELETE FROM loyalty_account WHERE profile_id = $1 RETURNING lifetime_revenue, orders', [c.merge.mergedId]);
        if (gone) await addToAccount(tx, c.merge.survivorId, gone.lifetime_revenue, gone.orders);
      }
    }
  });
}

/**
 * Loyalty tiers from `Order Completed` events, exposed as `Profile.loyaltyTier`.
 * Shows each part of the plugin contract: tables and their migrations, a field resolver on the
 * core Profile, a request-scoped DataLoader, durable event delivery (idempotent by event id,
 * merges included, history backfilled), and the data subject hooks.
 */
export const loyaltyPlugin = definePlugin((options: LoyaltyOptions) => {
  const opts: Required<LoyaltyOptions> = { silverAt: options.silverAt ?? 100, goldAt: options.goldAt ?? 1000 };
  return {
    name: 'loyalty',
    version: '0.2.0',
    compatibility: '^0.1.0',
    entities: [LoyaltyAccount],
    migrations: [CreateLoyaltyAccount1763900000000, LoyaltyOrders1763900000001],
    resolvers: [LoyaltyResolver],
    fields: [
      { type: 'Profile', field: 'loyaltyTier', purposes: ['personalization'] },
      { type: 'Profile', field: 'loyalty', purposes: ['personalization'] },
    ],

    loaders: (ctx: PluginContext) =>
      loyaltyLoaders.provide({
      options: opts,
      // One SELECT for every profile a query asks about.
      account: new DataLoader<string, LoyaltyAccount | null>(async (ids) => {
        const rows = await ctx.db.query<{ profile_id: string; lifetime_revenue: string; orders: number; updated_at: Date }>(
          'SELECT * FROM loyalty_account WHERE profile_id = ANY($1::uuid[])',
          [ids],
        );
        const by = new Map(rows.map((r) => [r.profile_id, { profileId: r.profile_id, lifetimeRevenue: Number(r.lifetime_revenue), orders: r.orders, updatedAt: r.updated_at }]));
        return ids.map((id) => by.get(id) ?? null);
      }),
      }),

    // Off the request path, at least once, in order; orders stored before the plugin was installed count too.
    delivery: { kinds: ['event', 'merge'], from: 'history', handle: applyChanges },

    // Data subject requests: what the plugin holds on a person, and erasing it with them.
    async onExport(profileIds, ctx) {
      return ctx.db.query('SELECT * FROM loyalty_account WHERE profile_id = ANY($1::uuid[])', [profileIds]);
    },
    async onProfileDeleted(profileIds, ctx) {
      await ctx.tx.query('DELETE FROM loyalty_order WHERE profile_id = ANY($1::uuid[])', [profileIds]);
      await ctx.tx.query('DELETE FROM loyalty_account WHERE profile_id = ANY($1::uuid[])', [profileIds]);
    },
  };
});
