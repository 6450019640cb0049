import type { PluginContext } from '@rapport/core';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journeysPlugin } from '../src';
import { checkJourney } from '../src/plugin/journey-definition';
import { stageInputsOf } from '../src/plugin/stage.delivery';

// Journey stages in a real server: a journey defined over GraphQL, events in through /v1/batch and /v1/track,
// Profile.journey and stageCounts out through GraphQL, with k = 3 and time-based rules re-checked every second.
let env: TestEnvironment;
let ctx: PluginContext;
const plugin = journeysPlugin({ k: 3, stageRecheckMs: 1000 });
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };

const SHOP = {
  name: 'Shop',
  stages: [
    { name: 'Awareness', when: [{ event: 'Page Viewed' }] },
    { name: 'Consideration', when: [{ event: 'Product Viewed' }] },
    { name: 'Purchase', when: [{ event: 'Order Completed' }] },
    { name: 'Loyalty', when: [{ event: 'Order Completed', atLeast: 3 }] },
    { name: 'VIP', when: [{ trait: 'plan', equals: 'gold' }, { trait: 'ltv', greaterThan: 100 }] },
  ],
};
const DEFINE = `mutation($input: JourneyInput!) { defineJourney(input: $input) { name version ready stages { name when { event atLeast withinSeconds absent trait equals greaterThan } } } }`;
const JOURNEY = `query($v: String!, $j: String!) { profileByIdentity(type: "user_id", value: $v) { id journey(name: $j) { journey stage enteredAt history { stage enteredAt leftAt } } } }`;
const COUNTS = `query($j: String!) { stageCounts(journey: $j) { journey k stages { stage index people suppressed } } }`;

const track = (userId: string, event: string, extra: Record<string, unknown> = {}) => ({ type: 'track', userId, event, ...extra });
async function send(...batch: Record<string, unknown>[]): Promise<void> {
  const r = await env.post('/v1/batch', { batch });
  expect(r.status).toBe(200);
  await env.settle();
}
async function journeyOf(user: string, journey = 'Shop'): Promise<any> {
  const r = await env.graphql(JOURNEY, { v: user, j: journey }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity.journey;
}
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
const rowsOf = (profileId: string) =>
  ctx.db.query<{ t: string; n: number }>(
    `SELECT 'stage' AS t, count(*)::int AS n FROM journeys_stage WHERE profile_id = $1
     UNION ALL SELECT 'history', count(*)::int FROM journeys_stage_history WHERE profile_id = $1`,
    [profileId],
  ).then((rows) => Object.fromEntries(rows.map((r) => [r.t, r.n])));

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [plugin], jobs: { pollIntervalMs: 200 } });
  ctx = env.server.core.pluginContext(plugin);
  // SHOP names trait keys no journey read before: their current values are copied for analytics (stage.traits.ts).
  const r = await env.graphql(DEFINE, { input: SHOP }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
});
afterAll(async () => env?.close());

it('defines a journey, checked and stored with its stages', async () => {
  const r = await env.graphql(`{ journeyDefinitions { name version stages { name when { event atLeast trait equals greaterThan } } } }`);
  expect(r.body.errors).toBeUndefined();
  expect(r.body.data.journeyDefinitions).toEqual([{
    name: 'Shop', version: 1,
    stages: [
      { name: 'Awareness', when: [{ event: 'Page Viewed', atLeast: 1, trait: null, equals: null, greaterThan: null }] },
      { name: 'Consideration', when: [{ event: 'Product Viewed', atLeast: 1, trait: null, equals: null, greaterThan: null }] },
      { name: 'Purchase', when: [{ event: 'Order Completed', atLeast: 1, trait: null, equals: null, greaterThan: null }] },
      { name: 'Loyalty', when: [{ event: 'Order Completed', atLeast: 3, trait: null, equals: null, greaterThan: null }] },
      { name: 'VIP', when: [
        { event: null, atLeast: null, trait: 'plan', equals: 'gold', greaterThan: null },
        { event: null, atLeast: null, trait: 'ltv', equals: null, greaterThan: 100 },
      ] },
    ],
  }]);
});

it('moves a person through the stages as events arrive, keeping the history', async () => {
  await send({ type: 'page', userId: 'ada', name: 'Home' });
  const aware = await journeyOf('ada');
  expect(aware).toMatchObject({ journey: 'Shop', stage: 'Awareness', history: [{ stage: 'Awareness', leftAt: null }] });
  await send(track('ada', 'Product Viewed'));
  await send(track('ada', 'Order Completed'));
  expect((await journeyOf('ada')).stage).toBe('Purchase');
  // Two more orders in one batch: the person goes straight to Loyalty.
  await send(track('ada', 'Order Completed'), track('ada', 'Order Completed'));
  const loyal = await journeyOf('ada');
  expect(loyal.stage).toBe('Loyalty');
  expect(loyal.history.map((h: any) => h.stage)).toEqual(['Awareness', 'Consideration', 'Purchase', 'Loyalty']);
  expect(loyal.history.slice(0, 3).every((h: any) => h.leftAt !== null)).toBe(true);
  expect(loyal.history[3].leftAt).toBeNull();
  expect(loyal.history[3].enteredAt).toBe(loyal.enteredAt);
  expect(loyal.history[1].enteredAt).toBe(loyal.history[0].leftAt);
});

it('reads traits of identify events: equals and greaterThan, the latest value winning', async () => {
  await send(track('grace', 'Order Completed'), { type: 'identify', userId: 'grace', traits: { plan: 'gold', ltv: 90, email: 'grace@example.com' } });
  expect((await journeyOf('grace')).stage).toBe('Purchase');
  await send({ type: 'identify', userId: 'grace', traits: { ltv: '150' } });
  expect((await journeyOf('grace')).stage).toBe('VIP');
  // Only the trait keys a rule names are kept.
  const keys = await ctx.db.query<{ key: string }>('SELECT DISTINCT key FROM journeys_trait ORDER BY key');
  expect(keys.map((k) => k.key)).toEqual(['ltv', 'plan']);
  await send({ type: 'identify', userId: 'grace', traits: { plan: 'silver' } });
  expect((await journeyOf('grace')).stage).toBe('Purchase');
});

it('counts people per stage among those who allow analytics, withholding stages of 1 to k-1 people', async () => {
  const refuses = { context: { consent: { categoryPreferences: { analytics: false } } } };
  await send(
    ...['c1', 'c2', 'c3'].map((u) => track(u, 'Product Viewed')),
    track('refuser', 'Product Viewed', refuses),
  );
  const r = await env.graphql(COUNTS, { j: 'Shop' }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  // ada: Loyalty; grace: Purchase; c1-c3: Consideration; the refuser is not tracked at all.
  expect(r.body.data.stageCounts).toEqual({
    journey: 'Shop', k: 3,
    stages: [
      { stage: 'Awareness', index: 1, people: 0, suppressed: false },
      { stage: 'Consideration', index: 2, people: 3, suppressed: false },
      { stage: 'Purchase', index: 3, people: null, suppressed: true },
      { stage: 'Loyalty', index: 4, people: null, suppressed: true },
      { stage: 'VIP', index: 5, people: 0, suppressed: false },
    ],
  });
  // Not even stored: the refuser has no stage row (four people viewed a product, three are in Consideration).
  const [stored] = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journeys_stage WHERE journey = 'Shop' AND stage = 'Consideration'");
  expect(stored!.n).toBe(3);
});

it('stops tracking a person who refuses analytics, and starts again when they allow it', async () => {
  await send(track('withdrawer', 'Product Viewed'));
  const before = await env.graphql(JOURNEY, { v: 'withdrawer', j: 'Shop' }, ANALYTICS);
  const id = before.body.data.profileByIdentity.id;
  expect(before.body.data.profileByIdentity.journey.stage).toBe('Consideration');
  const set = (granted: boolean) => env.graphql(`mutation($id: ID!, $g: Boolean!) { setConsent(input: { profileId: $id, purpose: "analytics", granted: $g }) { purpose } }`, { id, g: granted });
  expect((await set(false)).body.errors).toBeUndefined();
  await env.settle();
  expect(await rowsOf(id)).toEqual({ stage: 0, history: 0 });
  const changes = await ctx.db.query<{ from_stage: string; to_stage: string | null; reason: string }>(
    'SELECT from_stage, to_stage, reason FROM journeys_stage_change WHERE profile_id = $1 ORDER BY id', [id]);
  expect(changes).toEqual([{ from_stage: 'Consideration', to_stage: null, reason: 'consent' }]);
  // The guard denies the field for them anyway.
  const denied = await env.graphql(JOURNEY, { v: 'withdrawer', j: 'Shop' }, ANALYTICS);
  expect(denied.body.data.profileByIdentity.journey).toBeNull();
  expect((await set(true)).body.errors).toBeUndefined();
  await env.settle();
  expect((await journeyOf('withdrawer')).history.map((h: any) => h.stage)).toEqual(['Consideration']);
});

it('follows a merge: the survivor is re-evaluated with both histories of events, the merged profile leaves', async () => {
  const r = await env.post('/v1/batch', { batch: [
    { type: 'track', anonymousId: 'guest-7', event: 'Order Completed' },
    { type: 'page', userId: 'member-7', name: 'Home' },
  ] });
  expect(r.status).toBe(200);
  await env.settle();
  expect((await journeyOf('member-7')).stage).toBe('Awareness');
  await send({ type: 'alias', userId: 'member-7', previousId: 'guest-7' });
  const merged = await journeyOf('member-7');
  expect(merged.stage).toBe('Purchase');
  const exits = await ctx.db.query<{ reason: string }>("SELECT reason FROM journeys_stage_change WHERE reason = 'merge'");
  expect(exits).toHaveLength(1);
});

it('re-checks time-based rules: a person with no recent ping lapses without any new event', async () => {
  const activity = {
    name: 'Activity',
    stages: [
      { name: 'Active', when: [{ event: 'Ping', withinSeconds: 2 }] },
      { name: 'Lapsed', when: [{ event: 'Ping' }, { event: 'Ping', withinSeconds: 2, absent: true }] },
    ],
  };
  const d = await env.graphql(DEFINE, { input: activity });
  expect(d.body.errors).toBeUndefined();
  await send(track('pinger', 'Ping'));
  expect((await journeyOf('pinger', 'Activity')).stage).toBe('Active');
  // An old ping is already outside the window when it arrives.
  await send(track('old-pinger', 'Ping', { timestamp: new Date(Date.now() - 60_000).toISOString() }));
  expect((await journeyOf('old-pinger', 'Activity')).stage).toBe('Lapsed');
  const lapsed = await until(() => journeyOf('pinger', 'Activity'), (j) => j?.stage === 'Lapsed');
  expect(lapsed.stage).toBe('Lapsed');
  expect(lapsed.history.map((h: any) => h.stage)).toEqual(['Active', 'Lapsed']);
  const [change] = await ctx.db.query<{ reason: string }>("SELECT reason FROM journeys_stage_change WHERE journey = 'Activity' AND to_stage = 'Lapsed' ORDER BY id DESC LIMIT 1");
  expect(change!.reason).toBe('time');
});

it('evaluates everyone already known when a journey is defined (the backfill), and marks it ready', async () => {
  const d = await env.graphql(DEFINE, { input: { name: 'Buyers', stages: [{ name: 'Browsed', when: [{ event: 'Product Viewed' }] }, { name: 'Bought', when: [{ event: 'Order Completed' }] }] } });
  expect(d.body.data.defineJourney).toMatchObject({ name: 'Buyers', version: 1, ready: false });
  const ready = await until(() => env.graphql(`{ journeyDefinitions { name ready } }`).then((r) => r.body.data.journeyDefinitions.find((j: any) => j.name === 'Buyers').ready), (v) => v === true);
  expect(ready).toBe(true);
  expect((await journeyOf('ada', 'Buyers')).stage).toBe('Bought');
  expect((await journeyOf('c1', 'Buyers')).stage).toBe('Browsed');
  const counts = await env.graphql(COUNTS, { j: 'Buyers' }, ANALYTICS);
  // Browsed: c1-c3 and the withdrawer; Bought: ada, grace and member-7.
  expect(counts.body.data.stageCounts.stages.map((s: any) => s.people)).toEqual([4, 3]);
});

it('deletes a journey: its people leave it', async () => {
  await env.graphql(DEFINE, { input: { name: 'Temp', stages: [{ name: 'A', when: [{ event: 'Page Viewed' }] }, { name: 'B', when: [{ event: 'Nope' }] }] } });
  await until(() => env.graphql(`{ journeyDefinitions { name ready } }`).then((r) => r.body.data.journeyDefinitions.find((j: any) => j.name === 'Temp').ready), (v) => v === true);
  const del = await env.graphql(`mutation { deleteJourney(name: "Temp") }`);
  expect(del.body).toEqual({ data: { deleteJourney: true } });
  const [left] = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journeys_stage_change WHERE journey = 'Temp' AND reason = 'deleted'");
  expect(left!.n).toBeGreaterThan(0);
  const [rows] = await ctx.db.query<{ n: number }>("SELECT count(*)::int AS n FROM journeys_stage WHERE journey = 'Temp'");
  expect(rows!.n).toBe(0);
  const r = await env.graphql(JOURNEY, { v: 'ada', j: 'Temp' }, ANALYTICS);
  expect(r.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'name', rule: 'exists' });
});

it('re-evaluates a person only in the journeys an event can change, and any event can reach a stage of absent conditions only', async () => {
  expect(stageInputsOf(checkJourney(SHOP))).toEqual({ names: new Set(['Page Viewed', 'Product Viewed', 'Order Completed']), traits: new Set(['plan', 'ltv']) });
  const quiet = { name: 'Quiet', stages: [{ name: 'Newcomer', when: [{ event: 'Order Completed', absent: true }] }, { name: 'Buyer', when: [{ event: 'Order Completed' }] }] };
  expect(stageInputsOf(checkJourney(quiet))).toBeNull();
  await env.graphql(DEFINE, { input: quiet });
  await until(() => env.graphql(`{ journeyDefinitions { name ready } }`).then((r) => r.body.data.journeyDefinitions.find((j: any) => j.name === 'Quiet').ready), (v) => v === true);
  // An event no rule names: a new person enters Quiet's stage of absent conditions, and no stage of Shop.
  await send(track('searcher', 'Search Performed'));
  expect((await journeyOf('searcher', 'Quiet')).stage).toBe('Newcomer');
  expect(await journeyOf('searcher')).toBeNull();
  await send(track('searcher', 'Order Completed'));
  expect((await journeyOf('searcher', 'Quiet')).stage).toBe('Buyer');
  expect((await journeyOf('searcher')).stage).toBe('Purchase');
});

describe('bad input is refused with the argument and the rule', () => {
  const st = (name: string, when: Record<string, unknown>[]) => ({ name, when });
  const ok = st('A', [{ event: 'X' }]);
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['one stage', { name: 'J', stages: [ok] }, 'input.stages', 'count'],
    ['21 stages', { name: 'J', stages: Array.from({ length: 21 }, (_, i) => st(`S${i}`, [{ event: 'X' }])) }, 'input.stages', 'count'],
    ['a blank name', { name: ' ', stages: [ok, st('B', [{ event: 'Y' }])] }, 'input.name', 'length'],
    ['two stages of one name', { name: 'J', stages: [ok, st('A', [{ event: 'Y' }])] }, 'input.stages[1].name', 'unique'],
    ['a stage without conditions', { name: 'J', stages: [ok, st('B', [])] }, 'input.stages[1].when', 'count'],
    ['a condition naming both an event and a trait', { name: 'J', stages: [ok, st('B', [{ event: 'Y', trait: 'plan', equals: 'x' }])] }, 'input.stages[1].when[0]', 'oneOf'],
    ['a condition naming neither', { name: 'J', stages: [ok, st('B', [{ atLeast: 2 }])] }, 'input.stages[1].when[0]', 'oneOf'],
    ['a trait condition with both comparisons', { name: 'J', stages: [ok, st('B', [{ trait: 'ltv', equals: '1', greaterThan: 2 }])] }, 'input.stages[1].when[0]', 'oneOf'],
    ['a trait condition with a window', { name: 'J', stages: [ok, st('B', [{ trait: 'ltv', greaterThan: 2, withinSeconds: 60 }])] }, 'input.stages[1].when[0].withinSeconds', 'kind'],
    ['an event condition with equals', { name: 'J', stages: [ok, st('B', [{ event: 'Y', equals: 'x' }])] }, 'input.stages[1].when[0].equals', 'kind'],
    ['atLeast 0', { name: 'J', stages: [ok, st('B', [{ event: 'Y', atLeast: 0 }])] }, 'input.stages[1].when[0].atLeast', 'range'],
    ['atLeast on an absent condition', { name: 'J', stages: [ok, st('B', [{ event: 'Y', atLeast: 2, absent: true }])] }, 'input.stages[1].when[0].atLeast', 'absent'],
    ['a window of 0', { name: 'J', stages: [ok, st('B', [{ event: 'Y', withinSeconds: 0 }])] }, 'input.stages[1].when[0].withinSeconds', 'range'],
  ];
  it.each(cases)('%s', async (_name, input, field, rule) => {
    const r = await env.graphql(DEFINE, { input });
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field, rule });
    expect(r.body.errors[0].message).toMatch(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `));
  });

  it('an unknown journey, a request not acting for analytics, a key without the permissions', async () => {
    const unknown = await env.graphql(COUNTS, { j: 'Nope' }, ANALYTICS);
    expect(unknown.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'journey', rule: 'exists' });
    const none = await env.graphql(COUNTS, { j: 'Shop' });
    expect(none.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' });
    const field = await env.graphql(JOURNEY, { v: 'ada', j: 'Shop' });
    expect(field.body.data.profileByIdentity.journey).toBeNull();
    expect(field.body.errors[0].extensions.code).toBe('FORBIDDEN_FIELD');
    const app = await env.graphql(DEFINE, { input: SHOP }, { key: env.keys.app });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});
