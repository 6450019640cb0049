import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, recs, send, track, waitFor } from './helpers';

// Two servers on one database, as behind a load balancer. Neither polls for models (pollMs 0)
// nor refreshes its catalog on a timer (refreshMs 1 h): what one server or the CLI changes must
// reach the other through PostgreSQL notifications.
const options = { refreshMs: 3_600_000, pollMs: 0, ease: { lambda: 5, minItemUsers: 2 } };
let a: TestEnvironment;
let b: TestEnvironment;

const ITEMS = [
  ...[1, 2, 3].map((k) => ({ id: `a${k}`, title: `Alpha ${k}`, category: 'A', attributes: { line: 'alpha' } })),
  ...[1, 2, 3].map((k) => ({ id: `b${k}`, title: `Beta ${k}`, category: 'B', attributes: { line: 'beta' } })),
];
const STATUS = `{ recommendationModel { model version } }`;

beforeAll(async () => {
  a = await createTestEnvironment({ plugins: [recommendationsPlugin(options)] });
  b = await a.addServer({ plugins: [recommendationsPlugin(options)] });
  await a.graphql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id } }`, { items: ITEMS });
  const batch = [];
  for (let u = 0; u < 30; u++) {
    const t = u % 2 === 0 ? 'a' : 'b';
    for (const k of [1, 2, ...(u % 4 < 2 ? [3] : [])]) batch.push(track(`u${u}`, 'Product Viewed', { product_id: `${t}${k}` }, CONSENTED));
  }
  await send(a, batch);
});
afterAll(async () => a?.close());

describe('several servers on one database', () => {
  let probe: string;

  it('a model trained elsewhere is served by every server at once, without polling', async () => {
    [probe] = await send(a, [track('probe', 'Product Viewed', { product_id: 'a1' }, CONSENTED)]);
    expect((await b.graphql(STATUS)).body.data.recommendationModel).toEqual({ model: 'popularity', version: null });
    const core = a.server.core;
    const plugin = core.plugins.find((p) => p.name === 'recommendations')!;
    await plugin.train!(core.pluginContext(plugin), { args: [], onProgress: () => undefined });
    const s = await waitFor(async () => (await b.graphql(STATUS)).body.data.recommendationModel, (v) => v.model === 'ease', 15_000);
    expect(s).toEqual({ model: 'ease', version: 1 });
    const r = await recs(b, probe, 2);
    expect(r[0]).toMatchObject({ model: 'ease', reason: 'because you viewed Alpha 1' });
  });

  it('an interaction written by one server changes what the other recommends (its cached history is dropped)', async () => {
    const before = await recs(b, probe, 3); // b now holds probe's history in memory
    expect(before.every((x) => x.item.id.startsWith('a'))).toBe(true);
    await send(a, [
      track('probe', 'Order Completed', { products: [{ product_id: 'b1' }] }),
      track('probe', 'Product Added', { product_id: 'b2' }),
    ]);
    const after = await waitFor(() => recs(b, probe, 3), (r) => r[0]?.item.category === 'B', 15_000);
    expect(after[0]).toMatchObject({ model: 'ease' });
    expect(after.map((x) => x.item.id)).not.toContain('b1'); // bought: left out on b as well
  });

  it('an item made unavailable on one server is never recommended by the other', async () => {
    const first = (await recs(b, probe, 1))[0].item.id;
    await a.graphql(`mutation($id: ID!) { upsertItems(items: [{ id: $id, available: false }]) { id } }`, { id: first });
    const after = await waitFor(() => recs(b, probe, 5), (r) => !r.some((x) => x.item.id === first), 15_000);
    expect(after.map((x) => x.item.id)).not.toContain(first);
    const sim = (await b.graphql(`{ item(id: "a1") { similarItems(first: 5) { item { id } } } }`)).body.data.item.similarItems;
    expect(sim.map((x: { item: { id: string } }) => x.item.id)).not.toContain(first);
  });

  it('what trends follows new interactions on its own, without re-reading the catalog', async () => {
    await a.graphql(`mutation { upsertItems(items: [{ id: "c1", title: "Gamma 1", category: "C" }]) { id } }`);
    const [cold] = await send(a, [{ type: 'identify', userId: 'cold-start', traits: {} }]);
    expect((await recs(a, cold, 1))[0].item.id).not.toBe('c1');
    const { result, statements } = await a.countSql(async () => {
      await send(a, Array.from({ length: 40 }, (_, u) => track(`fan-${u}`, 'Product Viewed', { product_id: 'c1' }, CONSENTED)));
      return waitFor(() => recs(a, cold, 1), (r) => r[0]?.item.id === 'c1', 15_000);
    });
    expect(result[0]).toMatchObject({ model: 'popularity', reason: 'popular right now', item: { id: 'c1' } });
    expect(statements.filter((x) => x.includes('FROM rec_item ORDER BY')).length).toBe(0);
  });

  it('erasing a profile on one server removes its interactions everywhere', async () => {
    const exported = (await b.graphql(`mutation($id: ID!) { exportProfile(id: $id) }`, { id: probe })).body.data.exportProfile;
    expect(exported.plugins.recommendations.interactions.map((i: { itemId: string }) => i.itemId).sort()).toEqual(['a1', 'b1', 'b2']);
    const r = await a.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id: probe });
    expect(r.body.errors).toBeUndefined();
    const [{ n }] = await a.server.core.db.query<{ n: number }>('SELECT count(*)::int AS n FROM rec_interaction WHERE profile_id = $1', [probe]);
    expect(n).toBe(0);
    expect((await b.graphql(`query($id: ID!) { profile(id: $id) { id } }`, { id: probe })).body.data.profile).toBeNull();
  });
});
