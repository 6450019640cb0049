import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Change } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, track } from './helpers';

// Delivery is at-least-once: a crash after the plugin committed and before its cursor moved hands
// it the same batch again. The plugin records the events it counted in the same transaction as
// the counts, so the second delivery changes nothing.
let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([recommendationsPlugin({ refreshMs: 0, pollMs: 0 })]);
});
afterAll(async () => kit?.close());

const INTERACTIONS = `mutation($id: ID!) { exportProfile(id: $id) }`;

it('a batch delivered twice counts each interaction once', async () => {
  const r = await kit.ingest([
    track('twice', 'Order Completed', { products: [{ product_id: 'p-1', price: 10 }] }, CONSENTED),
    track('twice', 'Product Viewed', { product_id: 'p-2' }, CONSENTED),
  ]);
  expect(r.rejected).toEqual([]);
  await kit.settle();
  const profileId = r.accepted[0].profileId;
  const interactions = async () => {
    const x = await kit.graphql(INTERACTIONS, { id: profileId });
    expect(x.errors).toBeUndefined();
    const rows = (x.data.exportProfile.plugins.recommendations.interactions as Array<{ itemId: string; weight: number; count: number }>)
      .map((i) => [i.itemId, Number(i.weight), Number(i.count)]);
    return rows.sort();
  };
  const once = await interactions();
  expect(once).toEqual([['p-1', 5, 1], ['p-2', 1, 1]]);

  // The same batch again, as delivery hands it over after a crash before the cursor moved.
  const [page] = await kit.core.services.events.pagesOf([{ profileId, args: { first: 10 } }]);
  expect(page.nodes).toHaveLength(2);
  const changes: Change[] = page.nodes.map((event) => ({ kind: 'event', seq: String(event.id), profileId, event }));
  const plugin = kit.core.plugins.find((p) => p.name === 'recommendations')!;
  await plugin.delivery!.handle(changes, kit.core.pluginContext(plugin));
  expect(await interactions()).toEqual(once);
});
