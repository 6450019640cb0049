import type { PluginContext } from '@rapport/core';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// A journey defined after people identified: the trait keys it names start being kept only then, so their current
// values are copied from the profiles by the definition's backfill job (two people per transaction here), and everyone
// is placed right without sending anything new. Through GraphQL and /v1/batch on real PostgreSQL.
let env: TestEnvironment;
let ctx: PluginContext;
const plugin = journeysPlugin({ k: 1, traitCopyChunk: 2 });
const ANALYTICS = { headers: { 'x-rapport-purpose': 'analytics' } };
const DEFINE = `mutation($input: JourneyInput!) { defineJourney(input: $input) { name version ready backfill { state keys copied total values error } } }`;
const BACKFILL = `{ journeyDefinitions { name ready backfill { state keys copied total values error } } }`;
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
async function idOf(user: string): Promise<string> {
  const r = await env.graphql(`query($v: String!) { profileByIdentity(type: "user_id", value: $v) { id } }`, { v: user });
  return r.body.data.profileByIdentity.id;
}
async function backfillOf(name: string): Promise<any> {
  const d = await env.graphql(BACKFILL);
  expect(d.body.errors).toBeUndefined();
  return d.body.data.journeyDefinitions.find((j: any) => j.name === name);
}
/** Polls the journey's definition until `done` holds for it (15 s at most: then the last answer is returned to fail the test). */
async function waitFor(name: string, done: (j: any) => boolean, ms = 15_000): Promise<any> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await backfillOf(name);
    if (done(j) || Date.now() > end) return j;
    await new Promise((res) => setTimeout(res, 100));
  }
}
// No X-Rapport-Purpose: the copy acts for the plugin's own purpose, in its job.
async function defineAndWait(input: Record<string, unknown>): Promise<any> {
  const r = await env.graphql(DEFINE, { input });
  expect(r.body.errors).toBeUndefined();
  return waitFor(input.name as string, (j) => j.ready);
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

it('places people identified before the journey named their trait, without a new event, from a job that reports its progress', async () => {
  const j = await defineAndWait(TIERS);
  expect(j.backfill).toEqual({ state: 'done', keys: ['tier'], copied: j.backfill.total, total: expect.any(Number), values: 3, error: null });
  expect(j.backfill.total).toBeGreaterThanOrEqual(4); // everyone the plugin knew: more than one chunk of 2
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
  const j = await defineAndWait({ ...TIERS, stages: [...TIERS.stages, { name: 'Team', when: [{ anyOf: [{ when: [{ trait: 'seats', greaterThan: 10 }] }, { when: [{ event: 'Team Created' }] }] }] }] });
  expect(j.backfill).toMatchObject({ state: 'done', keys: ['seats'], values: 2, error: null });
  expect(await stageOf('only-identified')).toBe('Team');
  expect(await stageOf('visitor-silver')).toBe('Team');
  expect(await stageOf('visitor-gold')).toBe('Gold');
  const keys = await ctx.db.query<{ key: string; n: number }>('SELECT key, count(*)::int AS n FROM journeys_trait WHERE event_id < 0 GROUP BY key ORDER BY key');
  // tier copied once (the first definition: the 3 people allowing analytics), seats once (the redefinition: 2 of them have it).
  expect(keys).toEqual([{ key: 'seats', n: 2 }, { key: 'tier', n: 3 }]);
});

it('defines a journey adding a trait key without acting for analytics: the copy acts for the plugin in its job', async () => {
  const r = await env.graphql(DEFINE, { input: { name: 'Plans basic', stages: [TIERS.stages[0], { name: 'Basic', when: [{ trait: 'plan', equals: 'basic' }] }] } });
  expect(r.body.errors).toBeUndefined();
  expect(r.body.data.defineJourney.backfill.keys).toEqual(['plan']);
  expect((await waitFor('Plans basic', (j) => j.ready)).backfill).toMatchObject({ state: 'done', values: 0, error: null });
  // A key already kept needs no copy.
  const same = await env.graphql(DEFINE, { input: { name: 'Gold only', stages: [TIERS.stages[0], { name: 'Gold', when: [{ trait: 'tier', in: ['gold', 'platinum'] }] }] } });
  expect(same.body.errors).toBeUndefined();
  expect(same.body.data.defineJourney.backfill).toMatchObject({ keys: [], copied: 0, values: 0 });
  for (const name of ['Plans basic', 'Gold only']) expect((await env.graphql(`mutation($n: String!) { deleteJourney(name: $n) }`, { n: name })).body.errors).toBeUndefined();
});

it('copies no value of a dotted key (the host reads top-level keys only), and says so', async () => {
  const r = await env.graphql(DEFINE, { input: { name: 'Cities', stages: [TIERS.stages[0], { name: 'Paris', when: [{ trait: 'address.city', equals: 'Paris' }] }] } });
  expect(r.body.errors).toBeUndefined();
  expect(r.body.extensions.warnings).toEqual([expect.objectContaining({ code: 'TRAIT_NOT_COPIED', field: 'input.stages[1].when[0].trait', rule: 'topLevel' })]);
  expect(r.body.data.defineJourney.backfill.keys).toEqual([]);
});

it.each([
  ['a trait whose policy serves other purposes than analytics', 'favoriteColor', 'purpose', /policy Profile\.traits\.favoriteColor serves purposes \[personalization\]/],
  ['personal data with no policy (denied by default, as below admin)', 'phone', 'default', /personal data with no policy/],
])('refuses a definition adding %s, before anything is written', async (_name, trait, rule, reason) => {
  const r = await env.graphql(DEFINE, { input: { name: 'Refused', stages: [TIERS.stages[0], { name: 'Has', when: [{ trait, equals: 'x' }] }] } });
  expect(r.body.errors[0].extensions).toEqual({ code: 'FORBIDDEN', field: 'input.stages[1].when[0].trait', rule });
  expect(r.body.errors[0].message).toMatch(reason);
  const d = await env.graphql(`{ journeyDefinitions { name } }`);
  expect(d.body.data.journeyDefinitions.map((j: any) => j.name)).not.toContain('Refused');
  const [copies] = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM journeys_trait_copy WHERE journey = 'Refused'`);
  expect(copies!.n).toBe(0);
});

it('refuses a definition naming a trait other journeys already read, once an admin restricted it', async () => {
  await defineAndWait({ name: 'Seats', stages: [TIERS.stages[0], { name: 'Team', when: [{ trait: 'seats', greaterThan: 5 }] }] });
  const policy = await env.graphql(`mutation { setFieldPolicy(input: { type: "Profile", field: "traits.seats", purposes: [], roles: ["admin"] }) { id } }`);
  expect(policy.body.errors).toBeUndefined();
  try {
    const r = await env.graphql(DEFINE, { input: { name: 'Seats again', stages: [TIERS.stages[0], { name: 'Big', when: [{ trait: 'seats', greaterThan: 50 }] }] } });
    expect(r.body.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', field: 'input.stages[1].when[0].trait', rule: 'role' });
    const d = await env.graphql(`{ journeyDefinitions { name } }`);
    expect(d.body.data.journeyDefinitions.map((j: any) => j.name)).not.toContain('Seats again');
  } finally {
    await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id: policy.body.data.setFieldPolicy.id });
    await env.graphql(`mutation { deleteJourney(name: "Seats") }`);
  }
});

it('resumes a copy that failed mid-way without copying anyone twice; an identify during the copy wins, a withdrawal stops the copy of that person', async () => {
  const users = ['pro-1', 'pro-2', 'pro-3', 'pro-4', 'pro-5', 'pro-6'];
  await send(...users.map((u) => ({ type: 'identify', userId: u, traits: { plan: 'pro' } })));
  // By profile id, the order the copy goes in: q[0] < q[1] < ... The copy fails at q[3]'s chunk (2 people): q[0] and
  // q[1] are in earlier chunks, written before it; q[3], q[4] and q[5] are not.
  const byId = await Promise.all(users.map(async (u) => ({ u, id: await idOf(u) })));
  const q = byId.sort((a, b) => (a.id < b.id ? -1 : 1));
  await ctx.db.query(`CREATE FUNCTION journeys_test_crash() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'simulated crash in the copy'; END $$`);
  await ctx.db.query(
    `CREATE TRIGGER journeys_test_crash BEFORE INSERT ON journeys_trait FOR EACH ROW
       WHEN (NEW.event_id < 0 AND NEW.key = 'plan' AND NEW.profile_id = '${q[3]!.id}') EXECUTE FUNCTION journeys_test_crash()`,
  );
  const PLANS = { name: 'Plans', stages: [TIERS.stages[0], { name: 'Pro', when: [{ trait: 'plan', equals: 'pro' }] }] };
  const r = await env.graphql(DEFINE, { input: PLANS });
  expect(r.body.errors).toBeUndefined();
  // The mutation returns before the copy is done.
  expect(r.body.data.defineJourney).toMatchObject({ ready: false, backfill: { state: 'copying', keys: ['plan'] } });

  const stopped = await waitFor('Plans', (j) => j.backfill.error !== null);
  expect(stopped.backfill).toMatchObject({ state: 'copying', error: expect.stringMatching(/simulated crash/) });
  expect(stopped.backfill.copied).toBeLessThan(stopped.backfill.total);
  const copiedNow = async () => new Set((await ctx.db.query<{ id: string }>(`SELECT profile_id::text AS id FROM journeys_trait WHERE key = 'plan' AND event_id < 0`)).map((x) => x.id));
  const before = await copiedNow();
  expect([q[0]!, q[1]!].every((p) => before.has(p.id))).toBe(true);
  expect([q[3]!, q[4]!, q[5]!].some((p) => before.has(p.id))).toBe(false);

  // While the copy is stopped: q[0] (copied) and q[4] (not yet) change plan; q[5] (not yet) withdraws consent.
  await send({ type: 'identify', userId: q[0]!.u, traits: { plan: 'free' } }, { type: 'identify', userId: q[4]!.u, traits: { plan: 'free' } });
  const withdraw = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "analytics", granted: false }) { purpose } }`, { id: q[5]!.id });
  expect(withdraw.body.errors).toBeUndefined();
  await env.settle();

  // The job's retry resumes after the last chunk written.
  await ctx.db.query('DROP TRIGGER journeys_test_crash ON journeys_trait');
  await ctx.db.query('DROP FUNCTION journeys_test_crash()');
  const done = await waitFor('Plans', (j) => j.ready, 40_000);
  expect(done.backfill).toMatchObject({ state: 'done', error: null, values: 5, copied: done.backfill.total });

  // One copied row per person who allows analytics, none twice, none for the one who withdrew.
  const rows = await ctx.db.query<{ id: string; n: number }>(`SELECT origin_profile_id::text AS id, count(*)::int AS n FROM journeys_trait WHERE key = 'plan' AND event_id < 0 GROUP BY 1`);
  expect(new Map(rows.map((x) => [x.id, x.n]))).toEqual(new Map(q.slice(0, 5).map((p) => [p.id, 1])));
  expect(await stageOf(q[0]!.u, 'Plans')).toBeNull(); // the identify after the definition wins over the copied "pro"
  expect(await stageOf(q[1]!.u, 'Plans')).toBe('Pro');
  expect(await stageOf(q[2]!.u, 'Plans')).toBe('Pro');
  expect(await stageOf(q[3]!.u, 'Plans')).toBe('Pro');
  expect(await stageOf(q[4]!.u, 'Plans')).toBeNull();

  // Each read is in the audit log, with the plugin as the actor.
  const audit = await env.graphql(`query($id: ID!) { auditLog(profileId: $id) { actor action fields purpose requestId } }`, { id: q[1]!.id });
  expect(audit.body.data.auditLog).toContainEqual({ actor: 'plugin:journeys', action: 'read', fields: ['Profile.traits.plan'], purpose: 'analytics', requestId: 'journeys:copy:Plans' });
});
