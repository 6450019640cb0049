import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { loyaltyPlugin } from '../src';

// The same plugin through the plugin testkit: core, its schema and guard, on a real PostgreSQL, no HTTP.
let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([loyaltyPlugin({ silverAt: 100, goldAt: 500 })]);
});
afterAll(async () => kit?.close());

const GRANTED = { consent: { categoryPreferences: { personalization: true } } };
const TIER = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) { loyaltyTier loyalty { tier lifetimeRevenue orders } } }`;

it('ingests orders, settles, and reads the tier as an admin and as an app key, acting for personalization', async () => {
  const r = await kit.ingest([
    { type: 'track', userId: 'kit-shopper', event: 'Order Completed', properties: { revenue: 80 }, context: GRANTED },
    { type: 'track', userId: 'kit-shopper', event: 'Order Completed', properties: { revenue: 40 }, context: GRANTED },
    { type: 'track', userId: 'kit-shopper', event: 'Bad', timestamp: 'not a date' },
  ]);
  expect(r.accepted).toHaveLength(2);
  expect(r.rejected).toEqual([expect.objectContaining({ index: 2, field: 'batch[2].timestamp' })]);
  await kit.settle();
  // The fields serve personalization (declared): a read acts for it, about a person who granted it.
  const admin = await kit.graphql(TIER, { v: 'kit-shopper' }, { roles: ['admin'], purpose: 'personalization' });
  expect(admin.errors).toBeUndefined();
  expect(admin.data.profileByIdentity).toEqual({ loyaltyTier: 'SILVER', loyalty: { tier: 'SILVER', lifetimeRevenue: 120, orders: 2 } });
  const app = await kit.graphql(TIER, { v: 'kit-shopper' }, { roles: ['app'], purposes: ['personalization'] });
  expect(app.errors).toBeUndefined();
  expect(app.data.profileByIdentity.loyaltyTier).toBe('SILVER');
});

it('runs the same limits and rules as the server: an ingest key may not read profiles', async () => {
  const r = await kit.graphql(TIER, { v: 'kit-shopper' }, { roles: ['ingest'] });
  expect(r.errors?.[0].extensions?.code).toBe('FORBIDDEN');
});
