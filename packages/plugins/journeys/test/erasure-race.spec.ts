import type { PluginContext } from '@rapport/core';
import { createPluginTestkit, erasureRace, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// An erasure racing the plugin's delivery, in both orders (@rapport/testing's erasureRace stops each side where the
// race used to leave a copy behind): nothing of the erased person is left in the plugin's tables.
const plugin = journeysPlugin({ k: 1 });
const race = erasureRace(plugin, { writes: (sql) => sql.includes('INSERT INTO journeys_identified') });
let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  // A journey naming the race's events and a trait: its batches then load those events (delivery loads only what rules
  // read), keep the trait, record the identify and write stages.
  kit = await createPluginTestkit([plugin]);
  ctx = kit.core.pluginContext(plugin);
  const d = await kit.graphql(
    `mutation($i: JourneyInput!) { defineJourney(input: $i) { name } }`,
    { i: { name: 'Race', stages: [{ name: 'Gold', when: [{ trait: 'plan', equals: 'gold' }] }, { name: 'Raced', when: [{ anyOf: [{ when: [{ event: 'Race One Viewed' }] }, { when: [{ event: 'Race Two Viewed' }] }] }] }] } },
    { roles: ['admin'] },
  );
  expect(d.errors).toBeUndefined();
});
afterAll(async () => kit?.close());

/** What the plugin's tables hold on a person. */
async function leftOf(id: string): Promise<Record<string, number>> {
  const withOrigin = ['journeys_trait', 'journeys_identified'];
  const tables = [...withOrigin, 'journeys_stage', 'journeys_stage_history', 'journeys_stage_change'];
  const [row] = await ctx.db.query<Record<string, string>>(
    `SELECT ${tables.map((t) => `(SELECT count(*) FROM ${t} WHERE profile_id = $1${withOrigin.includes(t) ? ' OR origin_profile_id = $1' : ''}) AS ${t}`).join(', ')}`,
    [id],
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}
const nothing = { journeys_trait: 0, journeys_identified: 0, journeys_stage: 0, journeys_stage_history: 0, journeys_stage_change: 0 };
const person = (userId: string, event: string) => ({ event, messages: [{ type: 'identify', userId, traits: { plan: 'gold' } }, { type: 'track', userId, event }] });

it('an erasure that starts while a delivery batch writes the person leaves nothing of them', async () => {
  const id = await race.erasureDuringBatch(kit, person('race-one', 'Race One Viewed'));
  expect(await leftOf(id)).toEqual(nothing);
});

it('a delivery batch that reaches a person an erasure is deleting writes nothing of them', async () => {
  const id = await race.batchDuringErasure(kit, person('race-two', 'Race Two Viewed'));
  expect(await leftOf(id)).toEqual(nothing);
});
