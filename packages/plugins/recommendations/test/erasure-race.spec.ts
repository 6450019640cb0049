import type { PluginContext } from '@rapport/core';
import { createPluginTestkit, erasureRace, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recommendationsPlugin } from '../src';

// An erasure racing the plugin's delivery, in both orders (@rapport/testing's erasureRace stops each side where the
// race used to leave a copy behind): none of the erased person's interactions is left.
const plugin = recommendationsPlugin({ refreshMs: 0, pollMs: 100 });
const race = erasureRace(plugin, { writes: (sql) => sql.includes('INSERT INTO rec_interaction') });
let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
  ctx = kit.core.pluginContext(plugin);
});
afterAll(async () => kit?.close());

async function interactionsOf(id: string): Promise<number> {
  const [row] = await ctx.db.query<{ n: string }>('SELECT count(*) AS n FROM rec_interaction WHERE profile_id = $1', [id]);
  return Number(row!.n);
}

it('an erasure that starts while a delivery batch counts the person\'s interaction leaves nothing of them', async () => {
  const id = await race.erasureDuringBatch(kit, {
    event: 'Product Viewed',
    messages: [{ type: 'track', userId: 'race-one', event: 'Product Viewed', properties: { product_id: 'race-sku-1' } }],
  });
  expect(await interactionsOf(id)).toBe(0);
});

it('a delivery batch that reaches a person an erasure is deleting counts nothing of them', async () => {
  const id = await race.batchDuringErasure(kit, {
    event: 'Order Completed',
    messages: [{ type: 'track', userId: 'race-two', event: 'Order Completed', properties: { products: [{ product_id: 'race-sku-2' }] } }],
  });
  expect(await interactionsOf(id)).toBe(0);
});
