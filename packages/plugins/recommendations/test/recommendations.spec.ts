import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, PERSONAL, personalKey, RECS, recs, send, setConsent, track } from './helpers';

let env: TestEnvironment;
/** An app key acting for personalization (the purpose Profile.recommendations declares). */
let shopKey: string;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100 })] });
  shopKey = await personalKey(env);
});
afterAll(async () => env?.close());

const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id title category price available attributes } }`;
const ITEM = `query($id: ID!) { item(id: $id) { id title category price available attributes } }`;

const CATALOG = [
  { id: 'shoe-1', title: 'Trail Runner', category: 'Shoes', price: 120, attributes: { brand: 'Acme', sport: 'running' } },
  { id: 'shoe-2', title: 'Road Racer', category: 'Shoes', price: 140, attributes: { brand: 'Acme', sport: 'running' } },
  { id: 'shoe-3', title: 'Court Classic', category: 'Shoes', price: 90, attributes: { brand: 'Zed', sport: 'tennis' } },
  { id: 'shoe-old', title: 'Discontinued Boot', category: 'Shoes', price: 60, available: false, attributes: { brand: 'Acme', sport: 'running' } },
  { id: 'shirt-1', title: 'Run Tee', category: 'Shirts', price: 25, attributes: { brand: 'Acme', sport: 'running' } },
  { id: 'shirt-2', title: 'Polo', category: 'Shirts', price: 45, attributes: { brand: 'Zed' } },
  { id: 'sock-1', title: 'Wool Socks', category: 'Socks', price: 12, attributes: {} },
];

describe('catalog API', () => {
  it('upsertItems creates items; omitted fields keep their values; needs recommendations:manage', async () => {
    let r = await env.graphql(UPSERT, { items: CATALOG });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.upsertItems).toHaveLength(CATALOG.length);
    expect(r.body.data.upsertItems[3]).toMatchObject({ id: 'shoe-old', available: false, price: 60 });

    r = await env.graphql(UPSERT, { items: [{ id: 'sock-1', price: 14.5 }] });
    expect(r.body.data.upsertItems[0]).toEqual({ id: 'sock-1', title: 'Wool Socks', category: 'Socks', price: 14.5, available: true, attributes: {} });

    const denied = await env.graphql(UPSERT, { items: [{ id: 'x' }] }, { key: env.keys.app });
    expect(denied.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(denied.body.errors[0].message).toContain('recommendations:manage');

    const bad = await env.graphql(UPSERT, { items: [{ id: 'neg', price: -3 }] });
    expect(bad.body.errors[0].message).toBe('items[0].price: must be a number >= 0, got -3');
  });

  it('item(id) and items(filter, first, after) page through the catalog with profiles:read', async () => {
    const one = await env.graphql(ITEM, { id: 'shoe-1' }, { key: env.keys.app });
    expect(one.body.data.item).toMatchObject({ id: 'shoe-1', title: 'Trail Runner', category: 'Shoes', price: 120, available: true, attributes: { brand: 'Acme', sport: 'running' } });
    expect((await env.graphql(ITEM, { id: 'nope' })).body.data.item).toBeNull();
    expect((await env.graphql(ITEM, { id: 'shoe-1' }, { key: env.keys.ingest })).body.errors[0].extensions.code).toBe('FORBIDDEN');

    const PAGE = `query($f: ItemFilter, $after: String) { items(filter: $f, first: 2, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }`;
    const p1 = await env.graphql(PAGE, { f: { category: 'Shoes', available: true } }, { key: env.keys.app });
    expect(p1.body.data.items.nodes.map((n: { id: string }) => n.id)).toEqual(['shoe-1', 'shoe-2']);
    expect(p1.body.data.items.pageInfo.hasNextPage).toBe(true);
    const p2 = await env.graphql(PAGE, { f: { category: 'Shoes', available: true }, after: p1.body.data.items.pageInfo.endCursor });
    expect(p2.body.data.items.nodes.map((n: { id: string }) => n.id)).toEqual(['shoe-3']);
    expect(p2.body.data.items.pageInfo.hasNextPage).toBe(false);
    const byIds = await env.graphql(PAGE, { f: { ids: ['shirt-2', 'sock-1', 'missing'] } });
    expect(byIds.body.data.items.nodes.map((n: { id: string }) => n.id)).toEqual(['shirt-2', 'sock-1']);
    expect((await env.graphql(`{ items(first: 0) { nodes { id } } }`)).body.errors[0].message).toBe('first: must be an integer from 1 to 100, got 0');
  });
});

describe('items and interactions from Segment e-commerce events', () => {
  it('creates items from Product Viewed (top-level fields, string prices) and Order Completed products[]', async () => {
    await send(env, [
      track('ev-1', 'Product Viewed', { product_id: 'cap-1', name: 'Sun Cap', category: 'Hats', price: '19.90' }),
      track('ev-1', 'Order Completed', { order_id: 'o1', products: [{ sku: 'cap-2', name: 'Rain Cap', category: 'Hats', price: 22, quantity: 2 }, { product_id: 42, price: 'n/a' }] }),
    ]);
    const q = async (id: string) => (await env.graphql(ITEM, { id })).body.data.item;
    expect(await q('cap-1')).toMatchObject({ title: 'Sun Cap', category: 'Hats', price: 19.9, available: true });
    expect(await q('cap-2')).toMatchObject({ title: 'Rain Cap', price: 22 });
    expect(await q('42')).toMatchObject({ id: '42', title: null, price: null }); // "n/a" is not a price: ignored
  });

  it('never overwrites an explicit catalog title (with another name or with nothing); updates items events made', async () => {
    await send(env, [
      track('ev-2', 'Product Added', { product_id: 'shoe-1', name: 'trail runner v2 (from the shop)', price: 99 }),
      track('ev-2', 'Product Viewed', { product_id: 'shoe-2' }),
      track('ev-2', 'Product Viewed', { product_id: 'cap-1', name: 'Sun Cap Deluxe', price: 21 }),
    ]);
    expect((await env.graphql(ITEM, { id: 'shoe-1' })).body.data.item).toMatchObject({ title: 'Trail Runner', price: 120 });
    expect((await env.graphql(ITEM, { id: 'shoe-2' })).body.data.item).toMatchObject({ title: 'Road Racer', category: 'Shoes' });
    expect((await env.graphql(ITEM, { id: 'cap-1' })).body.data.item).toMatchObject({ title: 'Sun Cap Deluxe', price: 21 });
  });

  it('ignores malformed products without failing the request', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        track('ev-3', 'Order Completed', { products: 'not an array' }),
        track('ev-3', 'Order Completed', { products: [null, 5, 'x', {}, { name: 'no id' }, { product_id: '' }, { product_id: { nested: 1 } }] }),
        track('ev-3', 'Product Viewed', {}),
        track('ev-3', 'Product Viewed', { product_id: 'cap-3', price: { amount: 3 }, quantity: 'many' }),
        track('ev-3', 'Some Other Event', { product_id: 'never-stored' }),
      ],
    }, { key: env.keys.admin });
    expect(r.status).toBe(200);
    await env.settle();
    expect((await env.graphql(ITEM, { id: 'cap-3' })).body.data.item).toMatchObject({ id: 'cap-3', price: null });
    expect((await env.graphql(ITEM, { id: 'never-stored' })).body.data.item).toBeNull();
  });
});

describe('Profile.recommendations', () => {
  let shopper: string;
  let visitor: string;

  beforeAll(async () => {
    // Background activity of consenting profiles makes Run Tee, then Trail Runner, the most popular.
    const batch = [];
    for (let u = 0; u < 4; u++) batch.push(track(`crowd-${u}`, 'Product Viewed', { product_id: 'shirt-1' }, CONSENTED));
    for (let u = 0; u < 3; u++) batch.push(track(`crowd-${u}`, 'Product Viewed', { product_id: 'shoe-1' }, CONSENTED));
    batch.push(track('crowd-0', 'Product Viewed', { product_id: 'shoe-old' }, CONSENTED));
    batch.push(track('crowd-0', 'Product Viewed', { product_id: 'shoe-old' }, CONSENTED));
    batch.push(track('crowd-0', 'Product Viewed', { product_id: 'shoe-old' }, CONSENTED));
    batch.push(track('crowd-1', 'Product Viewed', { product_id: 'shirt-2' }, CONSENTED));
    await send(env, batch);
    [visitor] = await send(env, [{ type: 'identify', userId: 'visitor', traits: { name: 'New' } }]);
    [shopper] = await send(env, [track('shopper', 'Order Completed', { products: [{ product_id: 'shoe-3', price: '90' }] }, CONSENTED)]);
  });

  it('cold start: a profile with no history gets what trends, overall or in context.category', async () => {
    const all = await recs(env, visitor, 3);
    // shoe-3: one consented purchase (5); shirt-1: 4 views; shoe-1: 3 views; unconsented activity does not count.
    expect(all.map((r) => r.item.id)).toEqual(['shoe-3', 'shirt-1', 'shoe-1']);
    expect(all.every((r) => r.model === 'popularity' && r.reason === 'popular right now')).toBe(true);
    const shoes = await recs(env, visitor, 5, { category: 'Shoes' });
    expect(shoes.slice(0, 2).map((r) => r.item.id)).toEqual(['shoe-3', 'shoe-1']);
    expect(shoes[0]).toMatchObject({ model: 'popularity', reason: 'popular in Shoes this week' });
    expect(shoes.every((r) => r.item.category === 'Shoes')).toBe(true);
  });

  it('never returns unavailable items, even the most viewed one', async () => {
    const all = await recs(env, visitor, 100);
    expect(all.map((r) => r.item.id)).not.toContain('shoe-old');
    expect(all.every((r) => r.item.available)).toBe(true);
  });

  it('leaves out what the profile bought and what excludeIds names, and explains with titles', async () => {
    const r = await recs(env, shopper, 10, { excludeIds: ['shirt-1'] });
    const ids = r.map((x) => x.item.id);
    expect(ids).not.toContain('shoe-3');
    expect(ids).not.toContain('shirt-1');
    // No trained model yet: items sharing attributes with what was bought, then popularity.
    expect(r[0]).toMatchObject({ model: 'attributes', reason: 'because you bought Court Classic' });
    const rest = r.filter((x) => x.model === 'popularity');
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.every((x) => ['popular right now', 'new in the catalog'].includes(x.reason))).toBe(true);
    const back = await recs(env, shopper, 20, { includePurchased: true });
    expect(back.map((x) => x.item.id)).toContain('shoe-3');
  });

  it('uses the current interactions: a new view changes the very next read (no retraining)', async () => {
    const [id] = await send(env, [track('realtime', 'Product Viewed', { product_id: 'sock-1' }, CONSENTED)]);
    const before = await recs(env, id, 3);
    expect(before[0].reason).not.toContain('Road Racer');
    await send(env, [track('realtime', 'Product Added', { product_id: 'shoe-2' })]);
    const after = await recs(env, id, 3);
    expect(after[0]).toMatchObject({ model: 'attributes', reason: 'because you added Road Racer to your cart' });
    expect(['shoe-1', 'shirt-1']).toContain(after[0].item.id);
    const viewedOnly = await recs(env, id, 20, { excludeInteracted: true });
    expect(viewedOnly.map((x) => x.item.id)).not.toContain('shoe-2');
    expect(viewedOnly.map((x) => x.item.id)).not.toContain('sock-1');
  });

  it('folds the interactions of a merged profile into the survivor', async () => {
    await send(env, [{ type: 'track', anonymousId: 'anon-tennis', event: 'Product Viewed', properties: { product_id: 'shoe-3' } }]);
    const [survivor] = await send(env, [{ type: 'alias', userId: 'merged-user', previousId: 'anon-tennis' }]);
    await setConsent(env, survivor, true);
    const r = await recs(env, survivor, 3);
    expect(r[0].reason).toBe('because you viewed Court Classic');
  });

  it('rejects first outside 1..100 with an error naming first and the range', async () => {
    for (const first of [0, -1, 101, 4000]) {
      const r = await env.graphql(`query($id: ID!, $f: Int) { profile(id: $id) { recommendations(first: $f) { score } } }`, { id: shopper, f: first });
      expect(r.body.errors[0].message).toBe(`first: must be an integer from 1 to 100, got ${first}`);
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'first', rule: 'range' });
    }
    // Core's query-complexity limit (cost = first x children, max 5000) answers first: 10000 before the resolver does.
    const huge = await env.graphql(`query($id: ID!) { profile(id: $id) { recommendations(first: 10000) { score } } }`, { id: shopper });
    expect(huge.status).toBe(400);
    expect(huge.body.errors[0].message).toContain('ask for smaller pages (first)');
    const sim = await env.graphql(`{ item(id: "shoe-1") { similarItems(first: 101) { score } } }`);
    expect(sim.body.errors[0].message).toBe('first: must be an integer from 1 to 100, got 101');
  });

  it('reads the interactions of a page of profiles in one statement, then from memory until they change', async () => {
    const q = (n: number) => `{ profiles(first: ${n}) { nodes { id recommendations(first: 3) { item { id } reason } } } }`;
    const personal = { headers: PERSONAL };
    await env.graphql(q(1), undefined, personal);
    const count = (s: string[], sql: string) => s.filter((x) => x.includes(sql)).length;
    const many = await env.countSql(() => env.graphql(q(8), undefined, personal));
    expect(many.result.body.errors).toBeUndefined();
    expect(many.result.body.data.profiles.nodes.length).toBe(8);
    expect(count(many.statements, 'FROM rec_interaction WHERE profile_id')).toBe(1); // the 7 not read before, batched
    expect(count(many.statements, 'FROM rapport_consent WHERE profile_id')).toBe(1);
    expect(count(many.statements, 'FROM rec_item WHERE id = ANY')).toBe(0); // rows come from the catalog snapshot
    const again = await env.countSql(() => env.graphql(q(8), undefined, personal));
    expect(again.result.body).toEqual(many.result.body);
    expect(count(again.statements, 'FROM rec_interaction WHERE profile_id')).toBe(0);
    // A view by one of them drops that profile alone: the next read goes back to PostgreSQL for it.
    const node = many.result.body.data.profiles.nodes.find((n: { recommendations: Array<{ reason: string }> }) =>
      n.recommendations.some((r) => r.reason.startsWith('because')), // a consenting profile: its history is read
    );
    const who = await env.graphql(`query($id: ID!) { profile(id: $id) { identities { type value } } }`, { id: node.id });
    const ident = who.body.data.profile.identities[0];
    const key = ident.type === 'user_id' ? 'userId' : 'anonymousId';
    await env.post('/v1/track', { [key]: ident.value, event: 'Product Viewed', properties: { product_id: 'shirt-2' } });
    await env.settle();
    const changed = await env.countSql(() => env.graphql(q(8), undefined, personal));
    const reads = changed.statements.filter((x) => x.includes('FROM rec_interaction WHERE profile_id'));
    expect(reads.length).toBe(1);
    // profile(id) reads the profile and its consents in one statement: no second one for consent.
    const single = await env.countSql(() => env.graphql(`query($id: ID!) { profile(id: $id) { recommendations(first: 3) { item { id } } } }`, { id: node.id }, personal));
    expect(single.result.body.errors).toBeUndefined();
    expect(count(single.statements, 'FROM rapport_consent c WHERE c.profile_id = p.id')).toBe(1);
    expect(count(single.statements, 'FROM rapport_consent WHERE profile_id = ANY')).toBe(0);
    expect(count(single.statements, 'FROM rec_interaction WHERE profile_id')).toBe(0);
  });

  it('concurrent reads of profiles not in memory share interactions statements; each is ranked from its own history', async () => {
    const viewed = Array.from({ length: 12 }, (_, k) => ['shoe-1', 'shoe-3', 'shirt-1', 'shirt-2'][k % 4]);
    const ids = await send(env, viewed.map((item, k) => track(`concurrent-${k}`, 'Product Viewed', { product_id: item }, CONSENTED)));
    // Open the connections first (profile(id) alone reads no interactions), so the requests arrive together.
    await Promise.all(ids.map((id) => env.graphql(`query($id: ID!) { profile(id: $id) { id } }`, { id })));
    const { result, statements } = await env.countSql(() => Promise.all(ids.map((id) => env.graphql(RECS, { id, first: 3 }, { headers: PERSONAL }))));
    result.forEach((r, k) => {
      expect(r.body.errors).toBeUndefined();
      const got = r.body.data.profile.recommendations as Array<{ item: { id: string }; reason: string }>;
      const title = CATALOG.find((c) => c.id === viewed[k])!.title;
      expect(got.some((x) => x.reason === `because you viewed ${title}`)).toBe(true);
      for (const x of got) if (x.reason.startsWith('because')) expect(x.reason).toBe(`because you viewed ${title}`); // never another's
    });
    const reads = statements.filter((x) => x.includes('FROM rec_interaction WHERE profile_id')).length;
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(ids.length); // 12 requests, fewer statements (one when they arrive in one turn)
  });
});

describe('consent', () => {
  it('recommendations derive from events: a caller who may not read events gets no picks and no "because" reasons', async () => {
    const [id] = await send(env, [track('derived', 'Product Viewed', { product_id: 'shoe-3' }, CONSENTED)]);
    const before = await recs(env, id, 5, undefined, shopKey);
    expect(before.some((x) => x.reason.startsWith('because'))).toBe(true);
    const policy = await env.graphql(`mutation { setFieldPolicy(input: { type: "Profile", field: "events", purposes: [], roles: ["admin"] }) { id } }`);
    expect(policy.body.errors).toBeUndefined();
    try {
      const r = await env.graphql(RECS, { id, first: 5 }, { key: shopKey });
      expect(r.body.data.profile.recommendations).toBeNull();
      expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN_FIELD');
      expect(JSON.stringify(r.body)).not.toContain('Court Classic'); // the viewed item's title is nowhere
      expect((await recs(env, id, 5)).some((x) => x.reason.startsWith('because'))).toBe(true); // admins still may
    } finally {
      await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id: policy.body.data.setFieldPolicy.id });
    }
  });

  it('without personalization consent: popularity only, nothing of its behaviour; grant and revoke take effect on the next request', async () => {
    const [id] = await send(env, [
      track('private', 'Order Completed', { products: [{ product_id: 'shirt-1', name: 'Run Tee', price: 25 }] }),
      track('private', 'Product Viewed', { product_id: 'shoe-3' }),
    ]);
    const [stranger] = await send(env, [{ type: 'identify', userId: 'stranger' }]);
    const personalOff = async () => {
      const r = await recs(env, id, 10, undefined, shopKey);
      expect(r.length).toBeGreaterThan(0);
      expect(r.every((x) => x.model === 'popularity')).toBe(true);
      expect(r.every((x) => !x.reason.includes('because'))).toBe(true);
      // Exactly what a profile without any history gets: its purchase is not even used to leave shirt-1 out.
      expect(r).toEqual(await recs(env, stranger, 10));
      expect(r.map((x) => x.item.id)).toContain('shirt-1');
    };
    await personalOff();

    await setConsent(env, id, true);
    const on = await recs(env, id, 10, undefined, shopKey);
    expect(on.map((x) => x.item.id)).not.toContain('shirt-1');
    expect(on[0]).toMatchObject({ model: 'attributes' });
    expect(on.some((x) => x.reason === 'because you viewed Court Classic' || x.reason === 'because you bought Run Tee')).toBe(true);

    await setConsent(env, id, false);
    await personalOff();
  });

  it('declares its purpose, created at start', async () => {
    const plugin = env.server.core.plugins.find((p) => p.name === 'recommendations')!;
    expect(plugin.purposes?.map((p) => p.name)).toEqual(['personalization']);
    const r = await env.graphql('{ purposes { name legalBasis } }');
    expect(r.body.data.purposes).toContainEqual({ name: 'personalization', legalBasis: 'consent' });
  });
});

describe('similar items', () => {
  it('a brand-new item with no interactions gets similar items by category and attributes', async () => {
    await env.graphql(UPSERT, { items: [{ id: 'shoe-new', title: 'Trail Runner 2', category: 'Shoes', price: 150, attributes: { brand: 'Acme', sport: 'running' } }] });
    const r = await env.graphql(`{ item(id: "shoe-new") { similarItems(first: 3) { item { id } model reason } } }`, undefined, { key: env.keys.app });
    expect(r.body.errors).toBeUndefined();
    const sim = r.body.data.item.similarItems;
    expect(sim.map((s: { item: { id: string } }) => s.item.id).slice(0, 2).sort()).toEqual(['shoe-1', 'shoe-2']);
    expect(sim[0]).toMatchObject({ model: 'attributes', reason: 'similar to Trail Runner 2' });
    expect(sim.map((s: { item: { id: string } }) => s.item.id)).not.toContain('shoe-old');
  });
});
