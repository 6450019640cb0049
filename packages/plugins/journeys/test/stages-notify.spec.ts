import { definePlugin, type Change, type PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeyStagesPoint, journeysPlugin, type JourneyStagesExtension, type StageChange } from '../src';

// Stage changes as other plugins see them: a tiny plugin that depends on journeys registers a live listener through
// the `journeys.stages` extension point and reads the durable change log after its own cursor. Also: redelivery,
// unmerge, export and erasure of the stage tables, through the plugin testkit.
const journeys = journeysPlugin({ k: 1 });
const delivered: Change[] = [];
const handle = journeys.delivery!.handle;
journeys.delivery!.handle = async (changes, ctx) => {
  await handle(changes, ctx);
  delivered.push(...changes);
};

const live: StageChange[] = [];
let api: JourneyStagesExtension;
const watcher = definePlugin(() => ({
  name: 'stage-watcher',
  dependsOn: ['journeys'],
  onInit(ctx: PluginContext) {
    api = ctx.extensions.get(journeyStagesPoint);
    api.onChange((changes) => void live.push(...changes));
  },
}))();

let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  kit = await createPluginTestkit([journeys, watcher]);
  ctx = kit.core.pluginContext(journeys);
  const r = await kit.graphql(`mutation($input: JourneyInput!) { defineJourney(input: $input) { name } }`, {
    input: { name: 'Funnel', stages: [{ name: 'Visitor', when: [{ event: 'Page Viewed' }] }, { name: 'Customer', when: [{ event: 'Order Completed' }] }] },
  });
  expect(r.errors).toBeUndefined();
});
afterAll(async () => kit?.close());

const JOURNEY = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) { journey(name: "Funnel") { stage history { stage } } } }`;
const ANALYST = { roles: ['admin'], purpose: 'analytics' };
const stageOf = async (user: string) => (await kit.graphql(JOURNEY, { v: user }, ANALYST)).data.profileByIdentity.journey?.stage ?? null;
async function until(ok: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

it('tells another plugin about every change: live, on commit, and durably after its cursor', async () => {
  const r = await kit.ingest([{ type: 'page', userId: 'watched', name: 'Home' }]);
  const id = r.accepted[0]!.profileId;
  await kit.settle();
  await kit.ingest([{ type: 'track', userId: 'watched', event: 'Order Completed' }]);
  await kit.settle();
  await until(() => live.filter((c) => c.profileId === id).length >= 2);
  const mine = (cs: StageChange[]) => cs.filter((c) => c.profileId === id).map((c) => [c.journey, c.fromStage, c.toStage, c.reason]);
  expect(mine(live)).toEqual([['Funnel', null, 'Visitor', 'event'], ['Funnel', 'Visitor', 'Customer', 'event']]);
  // The durable log: the same changes, ids increasing; reading after the first one gives the second only.
  const all = await api.changesAfter(null);
  expect(mine(all)).toEqual(mine(live));
  const first = all.find((c) => c.profileId === id)!;
  expect(mine(await api.changesAfter(first.id))).toEqual([['Funnel', 'Visitor', 'Customer', 'event']]);
  expect(all.map((c) => BigInt(c.id))).toEqual([...all.map((c) => BigInt(c.id))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

it('reads the log in id order past id 9, and in pages that add up to the whole (ids are numbers, not text)', async () => {
  // Enough changes that ids reach two digits: 12 people entering the first stage.
  await kit.ingest(Array.from({ length: 12 }, (_, i) => ({ type: 'page', userId: `paged-${i}`, name: 'Home' })));
  await kit.settle();
  await until(async () => (await api.changesAfter(null)).length >= 14);
  const all = await api.changesAfter(null);
  expect(all.length).toBeGreaterThanOrEqual(14);
  const ids = all.map((c) => BigInt(c.id));
  expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  const paged: StageChange[] = [];
  for (let after: string | null = null; ;) {
    const page = await api.changesAfter(after, 3);
    if (page.length === 0) break;
    paged.push(...page);
    after = page.at(-1)!.id;
  }
  expect(paged.map((c) => c.id)).toEqual(all.map((c) => c.id));
});

it('changes nothing when the same batch is delivered again', async () => {
  const before = (await api.changesAfter(null)).length;
  await handle(delivered, ctx);
  expect((await api.changesAfter(null)).length).toBe(before);
  expect(await stageOf('watched')).toBe('Customer');
});

/** Merges the profiles of the first two accepted messages and waits for delivery; says which one survived. */
async function mergeFirstTwo(r: { accepted: Array<{ profileId: string }> }) {
  await kit.settle();
  const [a, b] = [r.accepted[0]!.profileId, r.accepted[1]!.profileId];
  const m = await kit.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "test") { id } }`, { ids: [a, b] });
  expect(m.errors).toBeUndefined();
  await kit.settle();
  const survivor = m.data.mergeProfiles.id as string;
  return { a, b, survivor, restored: survivor === a ? b : a };
}

/** Undoes the merge that absorbed `restored`, and waits for delivery. */
async function unmerge(restored: string) {
  const u = await kit.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: restored });
  expect(u.errors).toBeUndefined();
  await kit.settle();
}

it('re-evaluates both people when a merge is undone', async () => {
  const r = await kit.ingest([
    { type: 'page', userId: 'um-a', name: 'Home' },
    { type: 'track', anonymousId: 'um-b', event: 'Order Completed' },
  ]);
  const { a, b, survivor, restored } = await mergeFirstTwo(r);
  expect((await api.stagesOf('Funnel', [survivor, restored])).get(survivor)?.stage).toBe('Customer');
  expect((await api.stagesOf('Funnel', [restored])).size).toBe(0);
  await unmerge(restored);
  const now = await api.stagesOf('Funnel', [a, b]);
  expect([now.get(a)?.stage, now.get(b)?.stage]).toEqual(['Visitor', 'Customer']);
});

it('moves a person known only by an identify back on unmerge', async () => {
  const r = await kit.ingest([
    { type: 'identify', userId: 'io-a', traits: { plan: 'gold' } },
    { type: 'identify', anonymousId: 'io-b', traits: { seats: 3 } },
  ]);
  const { a, b, survivor, restored } = await mergeFirstTwo(r);
  const where = () => ctx.db.query<{ origin: string; live: string }>(
    'SELECT origin_profile_id AS origin, profile_id AS live FROM journeys_identified WHERE origin_profile_id = ANY($1::uuid[]) ORDER BY 1', [[a, b]]);
  expect((await where()).map((x) => x.live)).toEqual([survivor, survivor]);
  await unmerge(restored);
  expect((await where()).every((x) => x.live === x.origin)).toBe(true);
});

it('exports and erases what it holds on a person', async () => {
  const r = await kit.ingest([
    { type: 'page', userId: 'erased', name: 'Home' },
    { type: 'identify', userId: 'erased', traits: { plan: 'gold' } },
  ]);
  await kit.settle();
  const id = r.accepted[0]!.profileId;
  const exp = await kit.graphql(`mutation($id: ID!) { exportProfile(id: $id) }`, { id });
  expect(exp.errors).toBeUndefined();
  const mine = exp.data.exportProfile.plugins.journeys;
  expect(mine.stages).toEqual([expect.objectContaining({ journey: 'Funnel', stage: 'Visitor' })]);
  expect(mine.stageHistory).toHaveLength(1);
  expect(mine.stageChanges).toHaveLength(1);
  expect(mine.identified).toEqual([expect.objectContaining({ origin_profile_id: id, profile_id: id })]);
  const del = await kit.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id });
  expect(del.errors).toBeUndefined();
  const left = await ctx.db.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM journeys_stage WHERE profile_id = $1) + (SELECT count(*) FROM journeys_stage_history WHERE profile_id = $1)
          + (SELECT count(*) FROM journeys_stage_change WHERE profile_id = $1) + (SELECT count(*) FROM journeys_trait WHERE profile_id = $1) AS n`,
    [id],
  );
  expect(Number(left[0]!.n)).toBe(0);
});
