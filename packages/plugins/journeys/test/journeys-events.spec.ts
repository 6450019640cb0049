import type { Change } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// Funnels over core's events read in place, through merges, unmerges and erasure, and the delivery that loads only
// the events the journeys' rules read. k = 1 so single people show in the counts.
const plugin = journeysPlugin({ k: 1 });
const delivered: Change[] = [];
const handle = plugin.delivery!.handle;
plugin.delivery!.handle = async (changes, ctx) => {
  await handle(changes, ctx);
  delivered.push(...changes);
};
let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
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

it('loads only identify events while no journey is defined, then the events a journey names', async () => {
  const from = delivered.length;
  const r = await kit.ingest([
    { type: 'track', userId: 'sel', event: 'Sel Viewed', timestamp: at(0) },
    { type: 'track', userId: 'sel', event: 'Sel Bought', timestamp: at(1) },
    { type: 'page', userId: 'sel', name: 'Home', timestamp: at(2) },
    { type: 'identify', userId: 'sel', traits: { tier: 'gold' } },
  ]);
  expect(r.rejected).toEqual([]);
  await kit.settle();
  const kinds = () => delivered.slice(from).flatMap((c) => (c.kind === 'event' ? [`${c.event.type}:${c.event.name ?? ''}`] : []));
  expect(kinds()).toEqual(['identify:']);
  // Funnels read every event anyway.
  expect(await entered('Sel Viewed', 'Sel Bought')).toEqual([1, 1]);
  const d = await kit.graphql(
    `mutation($i: JourneyInput!) { defineJourney(input: $i) { name } }`,
    { i: { name: 'Sel', stages: [{ name: 'Looked', when: [{ event: 'Page Viewed' }] }, { name: 'Bought', when: [{ event: 'Sel Bought' }] }] } },
    { roles: ['admin'] },
  );
  expect(d.errors).toBeUndefined();
  const second = delivered.length;
  await kit.ingest([
    { type: 'track', userId: 'sel', event: 'Sel Viewed', timestamp: at(3) },
    { type: 'track', userId: 'sel', event: 'Sel Bought', timestamp: at(4) },
    { type: 'page', userId: 'sel', name: 'Home', timestamp: at(5) },
    { type: 'screen', userId: 'sel', name: 'Home', timestamp: at(6) },
  ]);
  await kit.settle();
  expect(delivered.slice(second).flatMap((c) => (c.kind === 'event' ? [`${c.event.type}:${c.event.name ?? ''}`] : []))).toEqual(['track:Sel Bought', 'page:Home']);
  // The events delivered before the journey existed were placed by its backfill.
  for (let i = 0; i < 200; i++) {
    const defs = await kit.graphql(`{ journeyDefinitions { name ready } }`, {}, { roles: ['admin'] });
    if (defs.data.journeyDefinitions.find((j: { name: string }) => j.name === 'Sel').ready) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const stage = await kit.graphql(`query($id: ID!) { profile(id: $id) { journey(name: "Sel") { stage } } }`, { id: r.accepted[0]!.profileId }, ANALYST);
  expect(stage.errors).toBeUndefined();
  expect(stage.data.profile.journey.stage).toBe('Bought');
  const del = await kit.graphql(`mutation { deleteJourney(name: "Sel") }`, {}, { roles: ['admin'] });
  expect(del.errors).toBeUndefined();
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
});
