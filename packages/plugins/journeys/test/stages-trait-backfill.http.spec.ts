import type { PluginContext } from '@rapport/core';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// A journey defined after people identified: the trait keys it names start being kept only then, so their current
// values are copied from the profiles when it is defined, and everyone is placed right without sending anything new.
// Through GraphQL and /v1/batch on real PostgreSQL.
let env: TestEnvironment;
let ctx: PluginContext;
const plugin = journeysPlugin({ k: 1 });
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };
const DEFINE = `mutation($input: JourneyInput!) { defineJourney(input: $input) { name version } }`;
const JOURNEY = `query($v: String!, $j: String!) { profileByIdentity(type: "user_id", value: $v) { id journey(name: $j) { stage } } }`;
const REFUSES = { context: { consent: { categoryPreferences: { analytics: false } } } };

async function send(...batch: Record<string, unknown>[]): Promise<void> {
  const r = await env.post('/v1/batch', { batch });
  expect(r.status).toBe(200);
  await env.settle();
}
async function stageOf(user: string, j = 'Tiers'): Promise<string | null> {
  const r = await env.graphql(JOURNEY, { v: user, j }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity.journey?.stage ?? null;
}
async function defineAndWait(input: Record<string, unknown>): Promise<void> {
  const r = await env.graphql(DEFINE, { input }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  const end = Date.now() + 15_000;
  for (;;) {
    const d = await env.graphql(`{ journeyDefinitions { name ready } }`);
    if (d.body.data.journeyDefinitions.find((j: any) => j.name === input.name).ready || Date.now() > end) return;
    await new Promise((res) => setTimeout(res, 100));
  }
}
const TIERS = {
  name: 'Tiers',
  stages: [{ name: 'Visitor', when: [{ event: 'Page Viewed' }] }, { name: 'Gold', when: [{ trait: 'tier', equals: 'gold' }] }],
};

beforeAll(async () => {
  env = await createTestEnvironment({
    plugins: [plugin], jobs: { pollIntervalMs: 200 },
    consent: { piiTraits: ['phone'], policies: [{ type: 'Profile', field: 'traits.favoriteColor', purposes: ['personalization'] }] },
  });
  ctx = env.server.core.pluginContext(plugin);
  // A journey that names no trait: the plugin keeps no trait values yet.
  await defineAndWait({ name: 'Visits', stages: [{ name: 'Once', when: [{ event: 'Page Viewed' }] }, { name: 'Often', when: [{ event: 'Page Viewed', atLeast: 3 }] }] });
  await send(
    { type: 'identify', userId: 'only-identified', traits: { tier: 'gold', seats: 12 } },
    { type: 'page', userId: 'visitor-gold', name: 'Home' },
    { type: 'identify', userId: 'visitor-gold', traits: { tier: 'gold' } },
    { type: 'page', userId: 'visitor-silver', name: 'Home' },
    { type: 'identify', userId: 'visitor-silver', traits: { tier: 'silver' } },
    { type: 'identify', userId: 'gold-refuser', traits: { tier: 'gold' }, ...REFUSES },
  );
});
afterAll(async () => env?.close());

it('places people identified before the journey named their trait, without a new event', async () => {
  await defineAndWait(TIERS);
  expect(await stageOf('only-identified')).toBe('Gold');
  expect(await stageOf('visitor-gold')).toBe('Gold');
  expect(await stageOf('visitor-silver')).toBe('Visitor');
});

it('uses no value of a person who does not allow analytics', async () => {
  const r = await env.graphql(JOURNEY, { v: 'gold-refuser', j: 'Tiers' }, ANALYTICS);
  const [rows] = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM journeys_trait WHERE profile_id = $1', [r.body.data.profileByIdentity.id]);
  expect(rows!.n).toBe(0);
  // A later grant starts tracking from what the plugin holds: the refused value was never copied.
  const set = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "analytics", granted: true }) { purpose } }`, { id: r.body.data.profileByIdentity.id });
  expect(set.body.errors).toBeUndefined();
  await env.settle();
  expect(await stageOf('gold-refuser')).toBeNull();
});

it('lets a later identify win over the copied value', async () => {
  await send({ type: 'identify', userId: 'visitor-gold', traits: { tier: 'silver' } });
  expect(await stageOf('visitor-gold')).toBe('Visitor');
  await send({ type: 'identify', userId: 'visitor-gold', traits: { tier: 'gold' } });
  expect(await stageOf('visitor-gold')).toBe('Gold');
});

it('copies the keys a redefinition adds, and only those', async () => {
  await send({ type: 'identify', userId: 'visitor-silver', traits: { seats: 40 } });
  await defineAndWait({ ...TIERS, stages: [...TIERS.stages, { name: 'Team', when: [{ anyOf: [{ when: [{ trait: 'seats', greaterThan: 10 }] }, { when: [{ event: 'Team Created' }] }] }] }] });
  expect(await stageOf('only-identified')).toBe('Team');
  expect(await stageOf('visitor-silver')).toBe('Team');
  expect(await stageOf('visitor-gold')).toBe('Gold');
  const keys = await ctx.db.query<{ key: string; n: number }>('SELECT key, count(*)::int AS n FROM journeys_trait WHERE event_id < 0 GROUP BY key ORDER BY key');
  // tier copied once (the first definition: the 3 people allowing analytics), seats once (the redefinition: 2 of them have it).
  expect(keys).toEqual([{ key: 'seats', n: 2 }, { key: 'tier', n: 3 }]);
});

it('refuses a definition adding a trait key when the request does not act for analytics', async () => {
  const r = await env.graphql(DEFINE, { input: { name: 'Plans', stages: [TIERS.stages[0], { name: 'Pro', when: [{ trait: 'plan', equals: 'pro' }] }] } });
  expect(r.body.errors[0].extensions).toEqual({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' });
  expect(r.body.errors[0].message).toMatch(/input\.stages\[1\]\.when\[0\]\.trait/);
  const d = await env.graphql(`{ journeyDefinitions { name } }`);
  expect(d.body.data.journeyDefinitions.map((j: any) => j.name)).toEqual(['Tiers', 'Visits']);
  // A key already kept needs no copy: no purpose needed.
  const same = await env.graphql(DEFINE, { input: { name: 'Gold only', stages: [TIERS.stages[0], { name: 'Gold', when: [{ trait: 'tier', in: ['gold', 'platinum'] }] }] } });
  expect(same.body.errors).toBeUndefined();
});

it('copies no value of a dotted key (the host reads top-level keys only), and says so', async () => {
  const r = await env.graphql(DEFINE, { input: { name: 'Cities', stages: [TIERS.stages[0], { name: 'Paris', when: [{ trait: 'address.city', equals: 'Paris' }] }] } }, ANALYTICS);
  expect(r.body.errors).toBeUndefined();
  expect(r.body.extensions.warnings).toEqual([expect.objectContaining({ code: 'TRAIT_NOT_COPIED', field: 'input.stages[1].when[0].trait', rule: 'topLevel' })]);
});

it.each([
  ['a trait whose policy serves other purposes than analytics', 'favoriteColor', 'purpose'],
  ['personal data (its reads are audited per person)', 'phone', 'pii'],
])('refuses a definition adding %s: its values may not be copied', async (_name, trait, rule) => {
  const r = await env.graphql(DEFINE, { input: { name: 'Refused', stages: [TIERS.stages[0], { name: 'Has', when: [{ trait, equals: 'x' }] }] } }, ANALYTICS);
  expect(r.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'input.stages[1].when[0].trait', rule });
  const d = await env.graphql(`{ journeyDefinitions { name } }`);
  expect(d.body.data.journeyDefinitions.map((j: any) => j.name)).not.toContain('Refused');
});
