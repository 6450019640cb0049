import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { definePlugin } from '@rapport/core/internal';
import { loyaltyPlugin } from '../../../examples/custom-plugin/src';

let env: TestEnvironment;
let appKey: string;
let supportKey: string;
let pid: string;
const hookSaw: boolean[] = [];
/** A plugin that asks, in its hook, whether it may use the person's data for personalization. */
const hookProbe = definePlugin(() => ({
  name: 'hook-probe',
  async onEvent(event, ctx) {
    if (event.name === 'Probe') hookSaw.push((await ctx.consent.allows([event.profileId], 'personalization')).get(event.profileId)!);
  },
}));

const setPolicy = (input: Record<string, unknown>) =>
  env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id type field purposes roles mask } }`, { i: input });
const asApp = (query: string, variables: Record<string, unknown> = {}, purpose = 'personalization') =>
  env.graphql(query, variables, { key: appKey, headers: { 'x-rapport-purpose': purpose } });
const setConsent = (granted: boolean, purpose = 'personalization') =>
  env.graphql(`mutation($i: ConsentInput!) { setConsent(input: $i) { granted } }`, { i: { profileId: pid, purpose, granted } });

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email', 'phone'], policies: [] }, plugins: [loyaltyPlugin(), hookProbe()] });
  const mk = async (roles: string[], purposes: string[]) =>
    (await env.graphql(`mutation($r: [String!]!, $p: [String!]) { createApiKey(input: { roles: $r, purposes: $p }) { key } }`, { r: roles, p: purposes })).body.data.createApiKey.key;
  appKey = await mk(['app'], ['personalization', 'analytics']);
  supportKey = await mk(['app'], ['support']);
  const r = await env.post('/v1/identify', { userId: 'fp-1', traits: { email: 'jane@example.com', favoriteColor: 'teal', plan: 'pro' } }, { key: env.keys.admin });
  pid = r.body.profileId;
  expect((await setPolicy({ type: 'Profile', field: 'traits.favoriteColor', purposes: ['personalization'], roles: ['app'], pii: true })).body.errors).toBeUndefined();
});
afterAll(async () => env?.close());

const TRAITS = `query($id: ID!) { profile(id: $id) { traits color: trait(key: "favoriteColor") } }`;

describe('field policies and consent', () => {
  it('walkthrough: a tagged trait is hidden until the profile grants the purpose, and hidden again the request after a revoke', async () => {
    let r = await asApp(TRAITS, { id: pid });
    expect(r.body.data.profile.traits).toEqual({ plan: 'pro' }); // email: PII without policy, favoriteColor: no consent
    expect(r.body.data.profile.color).toBeNull();
    const codes = r.body.errors.map((e: { extensions: { code: string; field: string }; path: string[] }) => [e.extensions.code, e.extensions.field, e.path.join('.')]);
    expect(codes).toEqual(expect.arrayContaining([
      ['CONSENT_REQUIRED', 'Profile.traits.favoriteColor', 'profile.traits'],
      ['FORBIDDEN_FIELD', 'Profile.traits.email', 'profile.traits'],
      ['CONSENT_REQUIRED', 'Profile.traits.favoriteColor', 'profile.color'],
    ]));
    await setConsent(true);
    r = await asApp(TRAITS, { id: pid });
    expect(r.body.data.profile).toEqual({ traits: { plan: 'pro', favoriteColor: 'teal' }, color: 'teal' });
    await setConsent(false);
    r = await asApp(TRAITS, { id: pid });
    expect(r.body.data.profile.traits).toEqual({ plan: 'pro' });
  });

  it('a reader acting for another purpose, or with another role, gets FORBIDDEN_FIELD', async () => {
    await setConsent(true);
    const other = await asApp(TRAITS, { id: pid }, 'analytics');
    expect(other.body.data.profile.color).toBeNull();
    const colorError = other.body.errors.find((e: { path: string[] }) => e.path.join('.') === 'profile.color');
    expect(colorError.extensions.code).toBe('FORBIDDEN_FIELD');
    expect(colorError.message).toContain('serves purposes [personalization]; the request acts for analytics');
    await setPolicy({ type: 'Profile', field: 'traits.plan', purposes: [], roles: ['ingest'] });
    const plan = await asApp(`query($id: ID!) { profile(id: $id) { p: trait(key: "plan") } }`, { id: pid });
    expect(plan.body.data.profile.p).toBeNull();
    expect(plan.body.errors[0].message).toContain('allows roles [ingest], not [app]');
  });

  it('masks: a denied reader gets j***@example.com or a hash when the policy says so', async () => {
    await setPolicy({ type: 'Profile', field: 'traits.email', purposes: ['marketing'], roles: ['app'], mask: 'mask', pii: true });
    const r = await asApp(`query($id: ID!) { profile(id: $id) { e: trait(key: "email") traits } }`, { id: pid });
    expect(r.body.data.profile.e).toBe('j***@example.com');
    expect(r.body.data.profile.traits.email).toBeUndefined(); // absent from the JSON, not masked
  });

  it('no side doors: aliases, fragments, lists, nested profiles and filters all go through the same decision', async () => {
    await setConsent(false);
    const r = await asApp(`fragment F on Profile { t: traits c: trait(key: "favoriteColor") }
      query($id: ID!) { a: profile(id: $id) { ...F } b: profiles(first: 10) { nodes { ...F x: trait(key: "favoriteColor") } } }`, { id: pid });
    expect(JSON.stringify(r.body.data)).not.toContain('teal');
    const probe = await asApp(`{ profiles(first: 10, filter: { traits: { favoriteColor: "teal" } }) { nodes { id } } }`);
    expect(probe.body.data.profiles.nodes).toEqual([]); // the filter matches only profiles that consented
    await setConsent(true);
    const allowed = await asApp(`{ profiles(first: 10, filter: { traits: { favoriteColor: "teal" } }) { nodes { id } } }`);
    expect(allowed.body.data.profiles.nodes).toEqual([{ id: pid }]);
    const forbidden = await env.graphql(`{ profiles(first: 10, filter: { traits: { favoriteColor: "teal" } }) { nodes { id } } }`, {}, {
      key: supportKey, headers: { 'x-rapport-purpose': 'support' },
    });
    expect(forbidden.body.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', field: 'filter.traits.favoriteColor' } });
  });

  it('a filter on a field behind a purpose not based on consent skips profiles that denied it', async () => {
    await setPolicy({ type: 'Profile', field: 'traits.tier', purposes: ['analytics'], roles: ['app'] });
    const r = await env.post('/v1/identify', { userId: 'fp-tier', traits: { tier: 'gold' }, context: { consent: { categoryPreferences: { analytics: false } } } }, { key: env.keys.admin });
    expect(r.status).toBe(200);
    const probe = await asApp(`{ profiles(first: 10, filter: { traits: { tier: "gold" } }) { nodes { id } } }`, {}, 'analytics');
    expect(probe.body.data.profiles.nodes).toEqual([]);
    await env.post('/v1/identify', { userId: 'fp-tier2', traits: { tier: 'gold' } }, { key: env.keys.admin });
    const open = await asApp(`{ profiles(first: 10, filter: { traits: { tier: "gold" } }) { nodes { trait(key: "tier") } } }`, {}, 'analytics');
    expect(open.body.data.profiles.nodes).toEqual([{ trait: 'gold' }]); // legitimate interest: no grant needed, only no denial
  });

  it('a key created without purposes may act for none; keys name only existing purposes', async () => {
    const r = await env.graphql(TRAITS, { id: pid }, { key: env.keys.app, headers: { 'x-rapport-purpose': 'personalization' } });
    expect(r.status).toBe(403);
    expect(r.body.errors[0].message).toContain('may act for no purpose');
    const bad = await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["telepathy"] }) { key } }`);
    expect(bad.body.errors[0].extensions).toMatchObject({ field: 'purposes[0]', rule: 'enum' });
  });

  it('explainAccess says who may read what, and which rule or consent decided', async () => {
    await setConsent(false);
    const q = `query($id: ID!, $r: String!, $p: String) { explainAccess(profileId: $id, field: "Profile.traits.favoriteColor", role: $r, purpose: $p) { allowed code reason consents } }`;
    const denied = (await env.graphql(q, { id: pid, r: 'app', p: 'personalization' })).body.data.explainAccess;
    expect(denied).toMatchObject({ allowed: false, code: 'CONSENT_REQUIRED', consents: { personalization: false } });
    expect(denied.reason).toContain('has not granted "personalization"');
    await setConsent(true);
    expect((await env.graphql(q, { id: pid, r: 'app', p: 'personalization' })).body.data.explainAccess.allowed).toBe(true);
    expect((await env.graphql(q, { id: pid, r: 'ingest', p: 'personalization' })).body.data.explainAccess).toMatchObject({ allowed: false, code: 'FORBIDDEN_FIELD' });
  });

  it('reads of PII fields are audited: who, which profile, which fields, which purpose', async () => {
    await setConsent(true);
    await asApp(TRAITS, { id: pid });
    const log = await env.graphql(`query($id: ID!) { auditLog(profileId: $id, first: 5) { actor action fields purpose requestId } }`, { id: pid });
    expect(log.body.data.auditLog[0]).toMatchObject({ action: 'read', fields: ['Profile.traits.favoriteColor'], purpose: 'personalization' });
    expect(log.body.data.auditLog[0].actor).toMatch(/^app/);
    // An admin reads a PII trait that has no policy: allowed, and audited too.
    const other = (await env.post('/v1/identify', { userId: 'fp-phone', traits: { phone: '+1 650 253 0000' } }, { key: env.keys.admin })).body.profileId;
    const read = await env.graphql(`query($id: ID!) { profile(id: $id) { traits } }`, { id: other });
    expect(read.body.data.profile.traits).toEqual({ phone: '+1 650 253 0000' });
    const adminLog = await env.graphql(`query($id: ID!) { auditLog(profileId: $id, first: 1) { actor fields } }`, { id: other });
    expect(adminLog.body.data.auditLog[0]).toEqual({ actor: 'test-admin', fields: ['Profile.traits.phone'] });
  });

  it('bad input: unknown fields, purposes and roles are refused and nothing is saved; a purpose the key may not use is a 403', async () => {
    const before = (await env.graphql(`{ fieldPolicies { id } }`)).body.data.fieldPolicies.length;
    const noField = await setPolicy({ type: 'Profile', field: 'shoeSize', purposes: [] });
    expect(noField.body.errors[0].extensions).toMatchObject({ field: 'field', rule: 'exists' });
    const noPurpose = await setPolicy({ type: 'Profile', field: 'events', purposes: ['telepathy'] });
    expect(noPurpose.body.errors[0].message).toContain('"telepathy" is not a purpose');
    const noRole = await setPolicy({ type: 'Profile', field: 'events', roles: ['wizard'] });
    expect(noRole.body.errors[0].extensions).toMatchObject({ field: 'roles[0]', rule: 'enum' });
    expect((await env.graphql(`{ fieldPolicies { id } }`)).body.data.fieldPolicies.length).toBe(before);
    const unknown = await asApp(TRAITS, { id: pid }, 'telepathy');
    expect(unknown.status).toBe(400);
    const notAllowed = await asApp(TRAITS, { id: pid }, 'marketing');
    expect(notAllowed.status).toBe(403);
    expect(notAllowed.body.errors[0].message).toContain('this key may act for [personalization, analytics], not "marketing"');
  });

  it("covers a plugin's field without the plugin doing anything: Profile.loyaltyTier", async () => {
    await setPolicy({ type: 'Profile', field: 'loyaltyTier', purposes: ['personalization'], roles: ['app'] });
    await setConsent(false);
    const denied = await asApp(`query($id: ID!) { profile(id: $id) { loyaltyTier } }`, { id: pid });
    expect(denied.body.data.profile.loyaltyTier).toBeNull();
    expect(denied.body.errors[0]).toMatchObject({ path: ['profile', 'loyaltyTier'], extensions: { code: 'CONSENT_REQUIRED', field: 'Profile.loyaltyTier' } });
    await setConsent(true);
    expect((await asApp(`query($id: ID!) { profile(id: $id) { loyaltyTier } }`, { id: pid })).body.data.profile.loyaltyTier).toBe('NONE');
  });

  it('plugins see the consent state in their hooks (ctx.consent)', async () => {
    await setConsent(false);
    await env.post('/v1/track', { userId: 'fp-1', event: 'Probe' });
    await setConsent(true);
    await env.post('/v1/track', { userId: 'fp-1', event: 'Probe' });
    expect(hookSaw).toEqual([false, true]);
  });

  it('covers whole fields, core and plugin alike: Profile.events behind personalization', async () => {
    await setPolicy({ type: 'Profile', field: 'events', purposes: ['personalization'], roles: ['app'] });
    await setConsent(false);
    const r = await asApp(`query($id: ID!) { profile(id: $id) { id events { nodes { name } } } }`, { id: pid });
    expect(r.body.data.profile).toEqual({ id: pid, events: null });
    expect(r.body.errors[0]).toMatchObject({ path: ['profile', 'events'], extensions: { code: 'CONSENT_REQUIRED', field: 'Profile.events' } });
  });
});
