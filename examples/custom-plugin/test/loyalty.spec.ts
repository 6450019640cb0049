import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { loyaltyPlugin } from '../src';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [loyaltyPlugin({ silverAt: 100, goldAt: 500 })] });
});
afterAll(async () => env?.close());

// Shoppers who granted personalization, the purpose the plugin's fields declare; reads act for it.
const GRANTED = { consent: { categoryPreferences: { personalization: true } } };
const order = (who: Record<string, string>, props: Record<string, unknown>, messageId?: string) => ({
  type: 'track', event: 'Order Completed', properties: props, context: GRANTED, ...who, ...(messageId ? { messageId } : {}),
});
const PERSONAL = { headers: { 'x-rapport-purpose': 'personalization' } };
const TIER = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) { id loyaltyTier loyalty { tier lifetimeRevenue orders } } }`;

describe('loyalty plugin (written outside packages/)', () => {
  it('adds Profile.loyaltyTier to the one schema, computed from Order Completed events', async () => {
    await env.post('/v1/batch', { batch: [order({ userId: 'shopper' }, { revenue: 60 }), order({ userId: 'shopper' }, { total: '45.50' })] });
    await env.settle();
    let r = await env.graphql(TIER, { v: 'shopper' }, PERSONAL);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'SILVER', lifetimeRevenue: 105.5, orders: 2 });
    await env.post('/v1/track', order({ userId: 'shopper' }, { products: [{ price: 200, quantity: 2 }, { price: '9.5' }] }));
    await env.settle();
    r = await env.graphql(TIER, { v: 'shopper' }, PERSONAL);
    expect(r.body.data.profileByIdentity.loyaltyTier).toBe('GOLD');
    expect(r.body.data.profileByIdentity.loyalty.lifetimeRevenue).toBe(515);
  });

  it('counts a re-sent order once (core drops the duplicate before delivery)', async () => {
    await env.post('/v1/track', order({ userId: 'dup-shopper' }, { revenue: 150 }, 'order-1'));
    await env.post('/v1/track', order({ userId: 'dup-shopper' }, { revenue: 150 }, 'order-1'));
    await env.settle();
    const r = await env.graphql(TIER, { v: 'dup-shopper' }, PERSONAL);
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'SILVER', lifetimeRevenue: 150, orders: 1 });
  });

  it('folds the totals of a merged profile into its survivor (a delivered merge)', async () => {
    await env.post('/v1/track', order({ userId: 'merge-shopper' }, { revenue: 300 }));
    await env.post('/v1/track', order({ anonymousId: 'guest-cart' }, { revenue: 250 }));
    await env.post('/v1/alias', { userId: 'merge-shopper', previousId: 'guest-cart' });
    await env.settle();
    const r = await env.graphql(TIER, { v: 'merge-shopper' }, PERSONAL);
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'GOLD', lifetimeRevenue: 550, orders: 2 });
  });

  it('reads every account of a page of profiles in one statement (its DataLoader)', async () => {
    const q = (n: number) => `{ profiles(first: ${n}) { nodes { id loyaltyTier loyalty { orders } } } }`;
    await env.graphql(q(1), {}, PERSONAL);
    const one = await env.countSql(() => env.graphql(q(1), {}, PERSONAL));
    const many = await env.countSql(() => env.graphql(q(50), {}, PERSONAL));
    expect(many.result.body.errors).toBeUndefined();
    expect(many.statements.length).toBe(one.statements.length);
  });

  it('shows up in the health query', async () => {
    const r = await env.graphql(`{ health { plugins { name version } } }`);
    expect(r.body.data.health.plugins).toEqual([{ name: 'loyalty', version: '0.2.0' }]);
  });

  it('counts orders stored before it was installed (its delivery starts at the start of history)', async () => {
    const bare = await createTestEnvironment({ plugins: [] });
    try {
      await bare.post('/v1/batch', { batch: [order({ userId: 'early' }, { revenue: 70 }), order({ userId: 'early' }, { revenue: 50 })] });
      const later = await bare.addServer({ plugins: [loyaltyPlugin({ silverAt: 100, goldAt: 500 })] });
      await later.settle();
      const r = await later.graphql(TIER, { v: 'early' }, PERSONAL);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'SILVER', lifetimeRevenue: 120, orders: 2 });
    } finally {
      await bare.close();
    }
  });
});
