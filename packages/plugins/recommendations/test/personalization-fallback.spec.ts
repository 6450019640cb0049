import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, personalKey, RECS, send, setConsent, track } from './helpers';

/**
 * `Profile.recommendations` declares `@Governed({ purposes: ['personalization'], derivesFrom:
 * ['events'], fallback })`: a request it is denied to because of its purpose or the person's
 * consent gets popularity (not null, no error), computed without the person's history; a role
 * denial stays a denial.
 */
let env: TestEnvironment;
/** An app key acting for personalization. */
let shopKey: string;
/** An app key acting for marketing only. */
let marketingKey: string;
let denier: string;
let granter: string;
let stranger: string;

type Rec = { item: { id: string; title: string }; model: string; reason: string };
const read = async (id: string, key: string, headers: Record<string, string> = {}) => env.graphql(RECS, { id, first: 10 }, { key, headers });
const setPolicy = async (input: Record<string, unknown>): Promise<string> => {
  const r = await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: input });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.setFieldPolicy.id;
};
const deletePolicy = (id: string) => env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });

/** Popularity, exactly as a profile without history gets it, and nothing derived from the person's history. */
async function expectPopularity(r: Awaited<ReturnType<typeof read>>) {
  expect(r.body.errors).toBeUndefined();
  expect(r.body.extensions ?? {}).toEqual({});
  const got = r.body.data.profile.recommendations as Rec[];
  expect(got).not.toBeNull();
  expect(got.length).toBeGreaterThan(0);
  expect(got.every((x) => x.model === 'popularity')).toBe(true);
  expect(got.every((x) => !x.reason.includes('because'))).toBe(true);
  const cold = (await read(stranger, env.keys.admin)).body.data.profile.recommendations;
  expect(got).toEqual(cold);
  // The bought item is not even left out: its purchase is history, which the fallback never reads.
  expect(got.map((x) => x.item.id)).toContain('fb-tee');
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100 })] });
  shopKey = await personalKey(env);
  marketingKey = (await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["marketing"] }) { key } }`)).body.data.createApiKey.key;
  const up = await env.graphql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id } }`, {
    items: [
      { id: 'fb-tee', title: 'Fallback Tee', category: 'Shirts', attributes: { brand: 'Acme' } },
      { id: 'fb-shoe', title: 'Secret Sneaker', category: 'Shoes', attributes: { brand: 'Acme' } },
      { id: 'fb-sock', title: 'Plain Sock', category: 'Socks', attributes: { brand: 'Acme' } },
    ],
  });
  expect(up.body.errors).toBeUndefined();
  // Consented background activity makes fb-tee the most popular item.
  await send(env, [0, 1, 2].map((u) => track(`fb-crowd-${u}`, 'Product Viewed', { product_id: 'fb-tee' }, CONSENTED)));
  [denier] = await send(env, [
    track('fb-denier', 'Order Completed', { products: [{ product_id: 'fb-tee', price: 20 }] }),
    track('fb-denier', 'Product Viewed', { product_id: 'fb-shoe' }),
  ]);
  await setConsent(env, denier, false);
  [granter] = await send(env, [
    track('fb-granter', 'Order Completed', { products: [{ product_id: 'fb-tee', price: 20 }] }, CONSENTED),
    track('fb-granter', 'Product Viewed', { product_id: 'fb-shoe' }, CONSENTED),
  ]);
  [stranger] = await send(env, [{ type: 'identify', userId: 'fb-stranger' }]);
});
afterAll(async () => env?.close());

describe('Profile.recommendations: the popularity fallback', () => {
  it('a person who denied personalization gets popularity (not null, no error), read for personalization', async () => {
    await expectPopularity(await read(denier, shopKey));
  });

  it('a person who granted it gets picks from their history, for a request acting for personalization', async () => {
    const r = await read(granter, shopKey);
    expect(r.body.errors).toBeUndefined();
    const got = r.body.data.profile.recommendations as Rec[];
    expect(got.some((x) => x.reason.startsWith('because'))).toBe(true);
    expect(got.map((x) => x.item.id)).not.toContain('fb-tee'); // bought: left out
  });

  it('a request acting for another purpose (or none) gets popularity for the same person', async () => {
    await expectPopularity(await read(granter, marketingKey));
    await expectPopularity(await read(granter, env.keys.admin)); // an admin acting for no purpose
  });

  it("an admin policy requiring a purpose the caller does not act for: popularity, not null", async () => {
    const id = await setPolicy({ type: 'Profile', field: 'recommendations', purposes: ['support'], roles: [] });
    try {
      await expectPopularity(await read(granter, shopKey));
    } finally {
      await deletePolicy(id);
    }
  });

  it('a role denial stays a denial: null with FORBIDDEN_FIELD, and nothing of the history', async () => {
    const id = await setPolicy({ type: 'Profile', field: 'recommendations', purposes: ['personalization'], roles: ['admin'] });
    try {
      for (const key of [shopKey, marketingKey]) {
        const r = await read(granter, key);
        expect(r.body.data.profile.recommendations).toBeNull();
        expect(r.body.errors).toHaveLength(1);
        expect(r.body.errors[0]).toMatchObject({
          path: ['profile', 'recommendations'],
          extensions: { code: 'FORBIDDEN_FIELD', field: 'Profile.recommendations', reason: expect.stringContaining('allows roles [admin]') },
        });
        expect(JSON.stringify(r.body)).not.toContain('Secret Sneaker');
      }
    } finally {
      await deletePolicy(id);
    }
  });
});
