import type { PluginContext } from '@rapport/core';
import { createPluginTestkit, erasureRace, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sentimentPlugin } from '../src';

// An erasure racing the plugin's delivery, in both orders (@rapport/testing's erasureRace stops each side where the
// race used to leave a copy behind): none of the erased person's texts or cases is left.
const plugin = sentimentPlugin();
const race = erasureRace(plugin, { writes: (sql) => sql.includes('INSERT INTO sentiment_text') });
let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
  ctx = kit.core.pluginContext(plugin);
});
afterAll(async () => kit?.close());

async function leftOf(id: string): Promise<{ texts: number; handoffs: number }> {
  const [row] = await ctx.db.query<{ texts: string; handoffs: string }>(
    'SELECT (SELECT count(*) FROM sentiment_text WHERE profile_id = $1) AS texts, (SELECT count(*) FROM sentiment_handoff WHERE profile_id = $1) AS handoffs',
    [id],
  );
  return { texts: Number(row!.texts), handoffs: Number(row!.handoffs) };
}

it('an erasure that starts while a delivery batch stores the person\'s text leaves nothing of them', async () => {
  const id = await race.erasureDuringBatch(kit, {
    event: 'Review Submitted',
    messages: [{ type: 'track', userId: 'race-one', event: 'Review Submitted', properties: { text: 'Terrible, it broke on day one.' } }],
  });
  expect(await leftOf(id)).toEqual({ texts: 0, handoffs: 0 });
});

it('a delivery batch that reaches a person an erasure is deleting stores nothing of them', async () => {
  const id = await race.batchDuringErasure(kit, {
    event: 'Survey Answered',
    messages: [{ type: 'track', userId: 'race-two', event: 'Survey Answered', properties: { comment: 'Lovely service.' } }],
  });
  expect(await leftOf(id)).toEqual({ texts: 0, handoffs: 0 });
});
