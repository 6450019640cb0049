import type { Change, PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// The plugin's event store through durable delivery: redelivery, merges, unmerges and erasure. k = 1 so single
// people show in the counts.
const plugin = journeysPlugin({ k: 1 });
const delivered: Change[] = [];
const handle = plugin.delivery!.handle;
plugin.delivery!.handle = async (changes, ctx) => {
  await handle(changes, ctx);
  delivered.push(...changes);
};
let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
  ctx = kit.core.pluginContext(plugin);
});
afterAll(async () => kit?.close());

const ANALYST = { roles: ['admin'], purpose: 'analytics' };
const FUNNEL = `query($a: String!, $b: String!) { funnel(steps: [{ event: $a }, { event: $b }]) { series { steps { entered } } } }`;
async function entered(a: string, b: string): Promise<(number | null)[]> {
  const r = await kit.graphql(FUNNEL, { a, b }, ANALYST);
  expect(r.errors).toBeUndefined();
  return r.data.funnel.series[0].steps.map((s: { entered: number | null }) => s.entered);
}
const at = (min: number) => new Date(Date.UTC(2026, 5, 1, 12, min)).toISOString();

it('stores each event once when a batch is delivered again', async () => {
  await kit.ingest([
    { type: 'track', userId: 'again', event: 'Again Viewed', timestamp: at(0) },
    { type: 'track', userId: 'again', event: 'Again Bought', timestamp: at(1), properties: { plan: 'pro', note: 'x'.repeat(300), nested: { a: 1 } } },
    { type: 'identify', userId: 'again', traits: { email: 'again@example.com' } },
  ]);
  await kit.settle();
  const before = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journeys_event WHERE name LIKE 'Again %'");
  await handle(delivered, ctx);
  const after = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journeys_event WHERE name LIKE 'Again %'");
  expect(before[0]!.n).toBe(2);
  expect(after[0]!.n).toBe(2);
  // Only short scalar top-level properties are kept.
  const [bought] = await ctx.db.query<{ props: unknown }>("SELECT props FROM journeys_event WHERE name = 'Again Bought'");
  expect(bought!.props).toEqual({ plan: 'pro' });
  expect(await entered('Again Viewed', 'Again Bought')).toEqual([1, 1]);
});

it('moves a guest\'s delivered events to the survivor when the guest is aliased to a user', async () => {
  // Both events are delivered while they are on two profiles; the merge then has to move one of them.
  await kit.ingest([
    { type: 'track', anonymousId: 'guest-9', event: 'Alias Viewed', timestamp: at(0) },
    { type: 'track', userId: 'member-9', event: 'Alias Signed Up', timestamp: at(5) },
  ]);
  await kit.settle();
  expect(await entered('Alias Viewed', 'Alias Signed Up')).toEqual([1, 0]);
  await kit.ingest([{ type: 'alias', userId: 'member-9', previousId: 'guest-9' }]);
  await kit.settle();
  expect(await entered('Alias Viewed', 'Alias Signed Up')).toEqual([1, 1]);
});

it('moves events back to the restored profile on unmerge', async () => {
  const r = await kit.ingest([
    { type: 'track', userId: 'um-a', event: 'Unmerge Viewed', timestamp: at(0) },
    { type: 'track', anonymousId: 'um-b', event: 'Unmerge Paid', timestamp: at(3) },
  ]);
  await kit.settle();
  const [a, b] = [r.accepted[0]!.profileId, r.accepted[1]!.profileId];
  expect(await entered('Unmerge Viewed', 'Unmerge Paid')).toEqual([1, 0]);
  const m = await kit.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "test") { id } }`, { ids: [a, b] });
  expect(m.errors).toBeUndefined();
  await kit.settle();
  expect(await entered('Unmerge Viewed', 'Unmerge Paid')).toEqual([1, 1]);
  const survivor = m.data.mergeProfiles.id;
  const restored = survivor === a ? b : a;
  const u = await kit.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: restored });
  expect(u.errors).toBeUndefined();
  await kit.settle();
  expect(await entered('Unmerge Viewed', 'Unmerge Paid')).toEqual([1, 0]);
  const rows = await ctx.db.query<{ profile_id: string; origin_profile_id: string }>("SELECT profile_id, origin_profile_id FROM journeys_event WHERE name LIKE 'Unmerge %'");
  for (const row of rows) expect(row.profile_id).toBe(row.origin_profile_id);
});

it('forgets an erased person', async () => {
  const r = await kit.ingest([
    { type: 'track', userId: 'erase-me', event: 'Erase Viewed', timestamp: at(0) },
    { type: 'track', userId: 'erase-me', event: 'Erase Paid', timestamp: at(2) },
  ]);
  await kit.settle();
  expect(await entered('Erase Viewed', 'Erase Paid')).toEqual([1, 1]);
  const d = await kit.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id: r.accepted[0]!.profileId });
  expect(d.errors).toBeUndefined();
  expect(await entered('Erase Viewed', 'Erase Paid')).toEqual([0, 0]);
  const left = await ctx.db.query("SELECT 1 FROM journeys_event WHERE name LIKE 'Erase %'");
  expect(left).toEqual([]);
});
