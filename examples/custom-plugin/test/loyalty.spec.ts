import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { loyaltyPlugin } from '../src';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [loyaltyPlugin({ silverAt: 100, goldAt: 500 })] });
});
afterAll(async () => env?.close());

const order = (who: Record<string, string>, props: Record<string, unknown>, messageId?: string) => ({
  type: 'track', event: 'Order Completed', properties: props, ...who, ...(messageId ? { messageId } : {}),
});
const TIER = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) { id loyaltyTier loyalty { tier lifetimeRevenue orders } } }`;

describe('loyalty plugin (written outside packages/)', () => {
  it('adds Profile.loyaltyTier to the one schema, computed from Order Completed events', async () => {
    await env.post('/v1/batch', { batch: [order({ userId: 'shopper' }, { revenue: 60 }), order({ userId: 'shopper' }, { total: '45.50' })] });
    let r = await env.graphql(TIER, { v: 'shopper' });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'SILVER', lifetimeRevenue: 105.5, orders: 2 });
    await env.post('/v1/track', order({ userId: 'shopper' }, { products: [{ price: 200, quantity: 2 }, { price: '9.5' }] }));
    r = await env.graphql(TIER, { v: 'shopper' });
    expect(r.body.data.profileByIdentity.loyaltyTier).toBe('GOLD');
    expect(r.body.data.profileByIdentity.loyalty.lifetimeRevenue).toBe(515);
  });

  it('counts a re-sent order once (core drops the duplicate before hooks run)', async () => {
    await env.post('/v1/track', order({ userId: 'dup-shopper' }, { revenue: 150 }, 'order-1'));
    await env.post('/v1/track', order({ userId: 'dup-shopper' }, { revenue: 150 }, 'order-1'));
    const r = await env.graphql(TIER, { v: 'dup-shopper' });
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'SILVER', lifetimeRevenue: 150, orders: 1 });
  });

  it('folds the totals of a merged profile into its survivor (onProfileMerged)', async () => {
    await env.post('/v1/track', order({ userId: 'merge-shopper' }, { revenue: 300 }));
    await env.post('/v1/track', order({ anonymousId: 'guest-cart' }, { revenue: 250 }));
    await env.post('/v1/alias', { userId: 'merge-shopper', previousId: 'guest-cart' });
    const r = await env.graphql(TIER, { v: 'merge-shopper' });
    expect(r.body.data.profileByIdentity.loyalty).toEqual({ tier: 'GOLD', lifetimeRevenue: 550, orders: 2 });
  });

  it('reads every account of a page of profiles in one statement (its DataLoader)', async () => {
    const q = (n: number) => `{ profiles(first: ${n}) { nodes { id loyaltyTier loyalty { orders } } } }`;
    await env.graphql(q(1));
    const one = await env.countSql(() => env.graphql(q(1)));
    const many = await env.countSql(() => env.graphql(q(50)));
    expect(many.result.body.errors).toBeUndefined();
    expect(many.statements.length).toBe(one.statements.length);
  });

  it('shows up in the health query', async () => {
    const r = await env.graphql(`{ health { plugins { name version } } }`);
    expect(r.body.data.health.plugins).toEqual([{ name: 'loyalty', version: '0.1.0' }]);
  });
});
