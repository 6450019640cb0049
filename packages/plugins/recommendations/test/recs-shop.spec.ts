import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, PERSONAL, recs, send, track, waitFor } from './helpers';

/**
 * Issue 18: recommendations in a real shop. No empty cards, training without being asked,
 * new items in similarItems, warnings for what was dropped, and clear answers for odd contexts.
 */

const UPSERT = `mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id } }`;
const STATUS = `{ recommendationModel { model served version trainedAt trainedItems learnedItems recommendableItems trainEverySeconds nextTrainingAt waitingFor lastError } }`;
const SIMILAR = `query($id: ID!, $first: Int) { item(id: $id) { similarItems(first: $first) { item { id } model reason } } }`;

const ITEMS = [
  ...[1, 2, 3, 4].map((k) => ({ id: `a${k}`, title: `Alpha ${k}`, category: 'A', attributes: { line: 'alpha' } })),
  ...[1, 2, 3, 4].map((k) => ({ id: `b${k}`, title: `Beta ${k}`, category: 'B', attributes: { line: 'beta' } })),
];

/** Two tastes over the titled catalog: even users view a1, a2 (a3); odd users b1, b2 (b3). */
function tastes(users: number) {
  const batch = [];
  for (let u = 0; u < users; u++) {
    const t = u % 2 === 0 ? 'a' : 'b';
    for (const id of [`${t}1`, `${t}2`, ...(u % 4 < 2 ? [`${t}3`] : [])]) batch.push(track(`user-${u}`, 'Product Viewed', { product_id: id }, CONSENTED));
  }
  return batch;
}

async function trainLikeTheCli(e: TestEnvironment) {
  const core = e.server.core;
  const plugin = core.plugins.find((p) => p.name === 'recommendations')!;
  return plugin.train!(core.pluginContext(plugin), { args: [], onProgress: () => undefined });
}

describe('no empty cards: items events created are not recommended until the catalog names them', () => {
  let env: TestEnvironment;
  let fresh: string;
  let junkFan: string;
  /** Viewed a4 only: attribute picks from category A, where junk-2 (category A, no title) also is. */
  let alphaFan: string;
  beforeAll(async () => {
    env = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100, trainEvery: 0, ease: { lambda: 5, minItemUsers: 2 } })] });
    await env.graphql(UPSERT, { items: ITEMS });
    await send(env, tastes(40));
    // 40 visitors view an id the catalog never named (a typo, a test environment, a bot), and one more.
    const ids = await send(env, [
      ...Array.from({ length: 40 }, (_, k) => track(`visitor-${k}`, 'Product Viewed', { product_id: 'junk-no-title' }, CONSENTED)),
      track('visitor-0', 'Product Viewed', { product_id: 'junk-2', category: 'A' }, CONSENTED),
      track('alpha-fan', 'Product Viewed', { product_id: 'a4' }, CONSENTED),
      track('fresh', 'Signed Up', {}, CONSENTED),
    ]);
    junkFan = ids[0];
    alphaFan = ids.at(-2)!;
    fresh = ids.at(-1)!;
  });
  afterAll(async () => env?.close());

  it('40 visitors viewing junk-no-title: no visitor ever gets it, on any path', async () => {
    const picks = await recs(env, alphaFan, 20);
    expect(picks.filter((x) => x.model === 'attributes').map((x) => x.item.id).sort()).toEqual(['a1', 'a2', 'a3']);
    for (const id of [fresh, junkFan, alphaFan]) {
      const r = await recs(env, id, 20);
      expect(r.length).toBeGreaterThan(0);
      expect(r.map((x) => x.item.id)).not.toContain('junk-no-title');
      expect(r.map((x) => x.item.id)).not.toContain('junk-2');
      expect(r.every((x) => x.item.title !== null)).toBe(true);
    }
    // Popularity in a category, and the fallback of a request not acting for personalization.
    const inA = await recs(env, fresh, 20, { category: 'A' });
    expect(inA.map((x) => x.item.id)).not.toContain('junk-2');
    const anon = await env.graphql(`query($id: ID!) { profile(id: $id) { recommendations(first: 20) { item { id } } } }`, { id: fresh });
    expect(anon.body.data.profile.recommendations.map((x: { item: { id: string } }) => x.item.id)).not.toContain('junk-no-title');
  });

  it('training leaves unnamed items out, and similarItems never shows them', async () => {
    const summary = await trainLikeTheCli(env);
    expect(summary).toMatchObject({ model: 'ease', items: 7 }); // not 9: junk-no-title and junk-2 are no training candidates
    const st = await waitFor(async () => (await env.graphql(STATUS)).body.data.recommendationModel, (v) => v.model === 'ease');
    expect(st).toMatchObject({ served: 'ease', trainedItems: 7, recommendableItems: 8 });
    for (const id of ['a1', 'junk-no-title']) {
      const r = await env.graphql(SIMILAR, { id, first: 20 });
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.item.similarItems.map((x: { item: { id: string } }) => x.item.id)).not.toContain('junk-2');
      expect(r.body.data.item.similarItems.map((x: { item: { id: string } }) => x.item.id)).not.toContain('junk-no-title');
    }
    const r = await recs(env, junkFan, 20);
    expect(r.map((x) => x.item.id).filter((i) => i.startsWith('junk'))).toEqual([]);
  });

  it('items(filter: { incomplete: true }) lists them, a page at a time, so the shop can fix its feed', async () => {
    const PAGE = `query($f: ItemFilter, $after: String) { items(filter: $f, first: 1, after: $after) { nodes { id title } pageInfo { hasNextPage endCursor } } }`;
    const p1 = await env.graphql(PAGE, { f: { incomplete: true } }, { key: env.keys.app });
    expect(p1.body.data.items).toMatchObject({ nodes: [{ id: 'junk-2', title: null }], pageInfo: { hasNextPage: true } });
    const p2 = await env.graphql(PAGE, { f: { incomplete: true }, after: p1.body.data.items.pageInfo.endCursor });
    expect(p2.body.data.items).toMatchObject({ nodes: [{ id: 'junk-no-title', title: null }], pageInfo: { hasNextPage: false } });
    const complete = await env.graphql(`{ items(filter: { incomplete: false }, first: 100) { nodes { id } } }`);
    expect(complete.body.data.items.nodes).toHaveLength(8);
  });

  it('once the catalog gives it a title it is recommended like any item', async () => {
    await env.graphql(UPSERT, { items: [{ id: 'junk-no-title', title: 'Mystery Box' }] });
    const r = await recs(env, fresh, 20);
    expect(r[0]).toMatchObject({ item: { id: 'junk-no-title', title: 'Mystery Box' }, model: 'popularity', reason: 'popular right now' });
    const left = await env.graphql(`{ items(filter: { incomplete: true }) { nodes { id } } }`);
    expect(left.body.data.items.nodes).toEqual([{ id: 'junk-2' }]);
  });

  it('requireFields: [] recommends every available item (the former behaviour)', async () => {
    const open = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, trainEvery: 0, requireFields: [] })] });
    try {
      const [id] = await send(open, [
        ...Array.from({ length: 3 }, (_, k) => track(`v-${k}`, 'Product Viewed', { product_id: 'nameless' }, CONSENTED)),
      ]);
      expect((await recs(open, id, 5, { excludeInteracted: false, includePurchased: true })).map((x) => x.item.id)).toContain('nameless');
    } finally {
      await open.close();
    }
    expect(() => recommendationsPlugin({ requireFields: ['colour' as 'title'] })).toThrow('recommendations: requireFields: "colour" is not one of title, category, price');
  });

  it('reports what was dropped from e-commerce events as warnings: HTTP /v1/batch', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        track('w1', 'Product Viewed', { product_id: 'a1', price: '1,99' }),
        track('w1', 'Order Completed', { order_id: 'o-1', products: 'a1,a2' }),
        track('w1', 'Order Completed', { products: [{ product_id: 'a1', price: 5 }, 'a2', { sku: 'a3', price: -2 }] }),
        track('w1', 'Product Viewed', { product_id: 'a2', price: '19.90' }),
        track('w1', 'Signed Up', { price: '1,99' }),
      ],
    }, { key: env.keys.admin });
    expect(r.status).toBe(200);
    const w = r.body.results.map((x: { warnings?: string[] }) => x.warnings ?? []);
    expect(w[0]).toEqual([
      'batch[0].properties.price: "1,99" is not a number (use a decimal point: "1.99"); the item\'s price was left as it was (recommendations: number)',
    ]);
    expect(w[1]).toEqual(['batch[1].properties.products: must be an array of product objects, got a string; its products were ignored (recommendations: array)']);
    expect(w[2]).toEqual([
      'batch[2].properties.products[1]: must be a product object, got string; it was skipped (recommendations: object)',
      'batch[2].properties.products[2].price: -2 is negative; the item\'s price was left as it was (recommendations: min)',
    ]);
    expect(w[3]).toEqual([]); // a numeric string is read
    expect(w[4]).toEqual([]); // not an event the plugin counts
  });

  it('reports them on /v1/track too, with warnings: [] for a clean event', async () => {
    const bad = await env.post('/v1/track', track('w2', 'Product Viewed', { product_id: 'a1', price: '1,99' }), { key: env.keys.admin });
    expect(bad.status).toBe(200);
    expect(bad.body.warnings).toEqual([
      'properties.price: "1,99" is not a number (use a decimal point: "1.99"); the item\'s price was left as it was (recommendations: number)',
    ]);
    const clean = await env.post('/v1/track', track('w2', 'Product Viewed', { product_id: 'a1', price: 1.99 }), { key: env.keys.admin });
    expect(clean.body).toMatchObject({ success: true, warnings: [] });
  });

  it('a checkEvent that throws is logged and skipped: the message is stored, other plugins still warn', async () => {
    const throwing = { name: 'throws-on-check', checkEvent: () => { throw new Error('boom'); } };
    const e = await createTestEnvironment({ plugins: [throwing, recommendationsPlugin({ refreshMs: 0, trainEvery: 0 })] });
    try {
      const r = await e.post('/v1/batch', { batch: [track('t1', 'Product Viewed', { product_id: 'a1', price: '1,99' })] }, { key: e.keys.admin });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ accepted: 1, errors: [] });
      expect(r.body.results[0].warnings).toHaveLength(1);
      expect(r.body.results[0].warnings[0]).toMatch(/^batch\[0\]\.properties\.price: .*\(recommendations: number\)$/);
    } finally {
      await e.close();
    }
  });

  it('an unknown category gives [] and a warning in the response extensions; a known one no warning', async () => {
    const Q = `query($id: ID!, $ctx: RecommendationContext) { profile(id: $id) { recommendations(first: 5, context: $ctx) { item { id } } } }`;
    const odd = await env.graphql(Q, { id: fresh, ctx: { category: 'Shoes' } }, { headers: PERSONAL });
    expect(odd.body.errors).toBeUndefined();
    expect(odd.body.data.profile.recommendations).toEqual([]);
    expect(odd.body.extensions.warnings).toEqual([
      {
        code: 'UNKNOWN_CATEGORY', field: 'context.category', rule: 'exists',
        message: 'context.category: no catalog item has the category "Shoes", so no item can be recommended in it (categories are compared exactly, case included)',
      },
    ]);
    const known = await env.graphql(Q, { id: fresh, ctx: { category: 'A' } }, { headers: PERSONAL });
    expect(known.body.data.profile.recommendations.length).toBeGreaterThan(0);
    expect(known.body.extensions?.warnings).toBeUndefined();
  });

  it('recommendationModel.items is deprecated in favour of trainedItems and learnedItems', async () => {
    const r = await env.graphql(`{ __type(name: "RecommendationModelStatus") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }`);
    const fields = new Map(r.body.data.__type.fields.map((f: { name: string }) => [f.name, f]));
    expect(fields.get('items')).toMatchObject({ isDeprecated: true });
    expect((fields.get('items') as { deprecationReason: string }).deprecationReason).toContain('trainedItems');
    expect(fields.get('trainedItems')).toMatchObject({ isDeprecated: false });
    expect(fields.get('learnedItems')).toMatchObject({ isDeprecated: false });
  });
});

const worker = path.resolve(__dirname, '../dist/plugin/train.worker.js');

describe.skipIf(!fs.existsSync(worker))('trained without being asked', () => {
  const logLines: string[] = [];
  let env: TestEnvironment;
  const HOUR = 3600_000;
  const status = async () => (await env.graphql(STATUS)).body.data.recommendationModel;

  /** 16 items of one line, each viewed by every one of `users` shoppers: every pair is learned together. */
  const LINE = Array.from({ length: 16 }, (_, k) => ({ id: `line-${k + 1}`, title: `Line ${k + 1}`, category: 'Line', attributes: { line: 'one', kind: 'shoe' } }));
  const lineViews = (from: number, users: number) =>
    Array.from({ length: users }, (_, u) => LINE.map((i) => track(`shopper-${from + u}`, 'Product Viewed', { product_id: i.id }, CONSENTED))).flat();

  beforeAll(async () => {
    const logger = createLogger({ level: 'info' }, { write: (s: string) => void logLines.push(s) });
    env = await createTestEnvironment({
      logger,
      jobs: { pollIntervalMs: 200 },
      plugins: [
        recommendationsPlugin({
          refreshMs: 0, pollMs: 100, trainEvery: HOUR, firstTrainingCheckMs: 1000,
          firstTraining: { interactions: 60, items: 16 }, ease: { lambda: 5, minItemUsers: 3 },
        }),
      ],
    });
    await env.graphql(UPSERT, { items: LINE });
  });
  afterAll(async () => env?.close());

  it('says at start what is served and when training runs', () => {
    const msg = logLines.map((l) => JSON.parse(l)).find((l) => String(l.msg).startsWith('recommendations: attribute and popularity picks until the first model'));
    expect(msg?.msg).toContain('trains by itself once 60 interactions and 16 items with 3+ consenting profiles are stored (checked every 1 s); then retrained every 1 h');
  });

  it('before enough data: attribute picks are served, and the status says what the first model waits for', async () => {
    await send(env, lineViews(0, 2)); // 32 interactions, no item with 3 profiles
    // Two first-model checks start after the data is stored (so the first has finished: runs never overlap).
    const [{ t0 }] = await env.server.core.db.query<{ t0: Date }>('SELECT now() AS t0');
    const starts = new Set<number>();
    await waitFor(
      async () => (await env.server.core.db.query<{ last_run: Date }>(`SELECT last_run FROM rec_schedule_run WHERE name = 'train-first'`))[0]?.last_run,
      (at) => (at && at > t0 ? starts.add(at.getTime()).size : 0) >= 2,
      10_000,
    );
    expect(starts.size).toBe(2);
    expect(await env.server.core.db.query('SELECT id FROM rec_model')).toEqual([]);
    const st = await status();
    expect(st).toMatchObject({ model: 'popularity', served: 'attributes', version: null, trainedItems: 0, learnedItems: 0, trainEverySeconds: 3600, nextTrainingAt: null });
    expect(st.waitingFor).toBe('the first model trains once there are 32 of at least 60 interactions of consenting profiles, 0 of at least 16 items with 3+ such profiles');
  });

  it('trains the first model as soon as the data reaches the threshold, and reports what is served', async () => {
    await send(env, lineViews(2, 2)); // 64 interactions, 16 items with 4 profiles each
    const st = await waitFor(status, (v) => v.model === 'ease', 20_000);
    expect(st).toMatchObject({ model: 'ease', served: 'ease', version: 1, trainedItems: 16, learnedItems: 16, waitingFor: null, lastError: null });
    // Trained on the data that reached the threshold, not on less.
    const [row] = await env.server.core.db.query<{ interactions: number }>(`SELECT (metrics->>'interactions')::int AS interactions FROM rec_model`);
    expect(row.interactions).toBeGreaterThanOrEqual(60);
    // The next scheduled run: one period after the schedule's last start (its first, when the server started).
    const [run] = await env.server.core.db.query<{ last_run: Date }>(`SELECT last_run FROM rec_schedule_run WHERE name = 'train'`);
    expect(new Date(st.nextTrainingAt).getTime()).toBe(run.last_run.getTime() + HOUR);
    expect(new Date(st.nextTrainingAt).getTime()).toBeGreaterThan(Date.now());

    const health = await env.graphql(`{ health { plugins { name status } } }`);
    const mine = health.body.data.health.plugins.find((p: { name: string }) => p.name === 'recommendations');
    expect(mine.status).toMatchObject({ served: 'ease', model: 'ease', version: 1, nextTrainingAt: st.nextTrainingAt, waitingFor: null });
  });

  it('a new item reaches the top 10 of similarItems of a near-identical learned item before the next training', async () => {
    const before = await env.graphql(SIMILAR, { id: 'line-1', first: 10 });
    expect(before.body.data.item.similarItems.map((x: { model: string }) => x.model)).toEqual(Array(10).fill('ease'));
    await env.graphql(UPSERT, { items: [{ id: 'line-new', title: 'Line New', category: 'Line', attributes: { line: 'one', kind: 'shoe' } }] });
    const r = (await env.graphql(SIMILAR, { id: 'line-1', first: 10 })).body.data.item.similarItems;
    expect(r).toHaveLength(10);
    const at = r.findIndex((x: { item: { id: string } }) => x.item.id === 'line-new');
    expect(at).toBe(9); // the tenth place is kept for a near-identical item the model has not learned (NEW_ITEM_EVERY)
    expect(r[at]).toMatchObject({ model: 'attributes', reason: 'similar to Line 1' });
    expect(r.filter((x: { model: string }) => x.model === 'ease')).toHaveLength(9);
  });
});
