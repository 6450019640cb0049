import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ctx, Extensions, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { definePlugin, type ProfileRecord } from '@rapport/core/internal';
import { Profile, type RapportContext } from '@rapport/schema/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * Issue 12, points 4 and 5: policies govern data elements, and one policy decides every place the
 * datum appears (traits, trait(key), identities, event payloads and ids, merge reasons, derived fields).
 */
@Resolver(() => Profile)
class EventCountResolver {
  @FieldResolver(() => Int, { nullable: true, description: 'How many events the profile has (derived from events).' })
  async eventCount(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext): Promise<number> {
    return (await ctx.loaders.events.load({ profileId: p.id, args: { first: 100 } })).nodes.length;
  }
}
@Resolver(() => Profile)
class FirstEmailResolver {
  @Extensions({ derivesFrom: ['identity:email'] })
  @FieldResolver(() => String, { nullable: true })
  async emailDomain(@Root() p: ProfileRecord, @Ctx() ctx: RapportContext): Promise<string | null> {
    const ids = await ctx.loaders.identities.load(p.id);
    return ids.find((i) => i.type === 'email')?.value.split('@')[1] ?? null;
  }
}
const derived = definePlugin(() => ({
  name: 'derived-probe',
  resolvers: [EventCountResolver, FirstEmailResolver],
  fields: [{ type: 'Profile', field: 'eventCount', purposes: [], derivesFrom: ['events'] }],
}));

let env: TestEnvironment;
let key: string;
let pid: string;
const opts = () => ({ key, headers: { 'x-rapport-purpose': 'personalization' } });
const setPolicy = (input: Record<string, unknown>) =>
  env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id element type field } }`, { i: input });
const deletePolicy = (id: string) => env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });
const EVERYTHING = `query($id: ID!) { profile(id: $id) { traits e: trait(key: "email") identities { type value }
  events(first: 50) { nodes { type name userId anonymousId traits properties context } }
  mergedFrom { reason } mergeHistory { reason } } }`;

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] }, plugins: [derived()] });
  key = (await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization"] }) { key } }`)).body.data.createApiKey.key;
  await env.post('/v1/identify', { anonymousId: 'anon-secret-1', traits: { plan: 'pro' }, context: { ip: '203.0.113.9' } });
  const r = await env.post('/v1/identify', {
    userId: 'uid-secret-1', traits: { email: 'mail-secret@example.com', plan: 'pro', address: { city: 'city-secret', country: 'NZ' } },
    context: { traits: { email: 'mail-secret@example.com' }, externalIds: [{ id: 'crm-secret-1', type: 'crm_id', collection: 'users', encoding: 'none' }] },
  }, { key: env.keys.admin });
  pid = r.body.profileId;
  await env.post('/v1/alias', { userId: 'uid-secret-1', previousId: 'anon-secret-1' });
  await env.post('/v1/track', { userId: 'uid-secret-1', event: 'Order Completed', properties: { total: 42, coupon: 'coupon-secret' } });
});
afterAll(async () => env?.close());

describe('one policy decides every place the datum appears (issue 12 point 4)', () => {
  it('a denied email trait (PII, no policy) is not readable through identities, events { traits context }', async () => {
    const r = await env.graphql(EVERYTHING, { id: pid }, opts());
    expect(r.body.data.profile.traits.plan).toBe('pro');
    expect(JSON.stringify(r.body.data)).not.toContain('mail-secret');
    expect(r.body.data.profile.identities.map((i: { type: string }) => i.type)).not.toContain('email');
    expect(r.body.errors.map((e: { extensions: { field: string } }) => e.extensions.field)).toEqual(expect.arrayContaining(['Profile.traits.email']));
  });

  it('with identities denied, ids are not readable through events, alias properties, external ids or merge reasons', async () => {
    const id = (await setPolicy({ element: 'identities', purposes: ['marketing'] })).body.data.setFieldPolicy.id;
    try {
      const r = await env.graphql(EVERYTHING, { id: pid }, opts());
      const text = JSON.stringify(r.body.data);
      for (const s of ['uid-secret-1', 'anon-secret-1', 'crm-secret-1', 'mail-secret']) expect(text, s).not.toContain(s);
      expect(r.body.data.profile.identities).toBeNull();
      expect(r.body.data.profile.events.nodes.length).toBeGreaterThan(2); // the events themselves stay readable
      expect(r.body.data.profile.mergedFrom.length).toBe(1);
      const lookup = await env.graphql(`{ profileByIdentity(type: "user_id", value: "uid-secret-1") { id } }`, {}, opts());
      expect(lookup.body.errors[0].extensions.code).toBe('FORBIDDEN');
    } finally {
      await deletePolicy(id);
    }
    // The policy is gone: the next request reads the ids again.
    const again = await env.graphql(`query($id: ID!) { profile(id: $id) { identities { value } } }`, { id: pid }, opts());
    expect(JSON.stringify(again.body.data)).toContain('uid-secret-1');
  });

  it('a collection policy does not name a PII trait: it stays denied by default through traits, trait(key), identities, events and lookups', async () => {
    // `email` is PII (consent.piiTraits) and no policy names it; a policy on a collection holding it
    // (traits, identities) must not open it (rule 1: a collection policy does not count).
    for (const element of ['traits', 'identities']) {
      const id = (await setPolicy({ element, purposes: [], roles: [] })).body.data.setFieldPolicy.id;
      try {
        const r = await env.graphql(EVERYTHING, { id: pid }, opts());
        expect(JSON.stringify(r.body.data), element).not.toContain('mail-secret');
        expect(r.body.data.profile.traits.plan, element).toBe('pro');
        expect(r.body.data.profile.e, element).toBeNull();
        const lookup = await env.graphql(`{ profileByIdentity(type: "email", value: "mail-secret@example.com") { id } }`, {}, opts());
        expect(lookup.body.errors?.[0]?.extensions.code, element).toBe('FORBIDDEN');
        const admin = await env.graphql(`{ profileByIdentity(type: "email", value: "mail-secret@example.com") { id trait(key: "email") } }`);
        expect(admin.body.data.profileByIdentity.trait, element).toBe('mail-secret@example.com');
      } finally {
        await deletePolicy(id);
      }
    }
  });

  it('a policy on one identity type covers the same datum as a trait (the email trait and the email identity)', async () => {
    const id = (await setPolicy({ element: 'identity:email', purposes: ['personalization'], roles: ['app'] })).body.data.setFieldPolicy;
    expect(id).toMatchObject({ element: 'identity:email', type: 'element', field: 'identity:email' });
    try {
      const denied = await env.graphql(EVERYTHING, { id: pid }, opts()); // no personalization grant yet
      expect(JSON.stringify(denied.body.data)).not.toContain('mail-secret');
      await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: true }) { granted } }`, { id: pid });
      const allowed = await env.graphql(EVERYTHING, { id: pid }, opts());
      expect(allowed.body.data.profile.e).toBe('mail-secret@example.com');
      expect(allowed.body.data.profile.identities.map((i: { type: string }) => i.type)).toContain('email');
      await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: false }) { granted } }`, { id: pid });
      const revoked = await env.graphql(EVERYTHING, { id: pid }, opts());
      expect(JSON.stringify(revoked.body.data)).not.toContain('mail-secret'); // the next request
    } finally {
      await deletePolicy(id.id);
    }
  });

  it('trait(key) honours a policy on Profile.traits as a whole, and nested trait keys are elements', async () => {
    const whole = (await setPolicy({ type: 'Profile', field: 'traits', purposes: ['marketing'] })).body.data.setFieldPolicy.id;
    try {
      const r = await env.graphql(`query($id: ID!) { profile(id: $id) { traits p: trait(key: "plan") } }`, { id: pid }, opts());
      expect(r.body.data.profile).toEqual({ traits: null, p: null });
    } finally {
      await deletePolicy(whole);
    }
    const city = (await setPolicy({ element: 'trait:address.city', purposes: ['marketing'] })).body.data.setFieldPolicy.id;
    try {
      const r = await env.graphql(`query($id: ID!) { profile(id: $id) { traits a: trait(key: "address") } }`, { id: pid }, opts());
      expect(r.body.data.profile.traits.address).toEqual({ country: 'NZ' });
      expect(r.body.data.profile.a).toEqual({ country: 'NZ' });
      const f = await env.graphql(`{ profiles(first: 5, filter: { traits: { address: { city: "city-secret" } } }) { nodes { id } } }`, {}, opts());
      expect(f.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', field: 'filter.traits.address.city' });
    } finally {
      await deletePolicy(city);
    }
  });

  it('event payload keys no policy classifies are denied below admin; an event element policy opens them', async () => {
    const q = `query($id: ID!) { profile(id: $id) { events(first: 50, name: "Order Completed") { nodes { properties context } } } }`;
    const closed = await env.graphql(q, { id: pid }, opts());
    expect(closed.body.data.profile.events.nodes[0].properties).toEqual({});
    expect(JSON.stringify(closed.body.data)).not.toContain('coupon-secret');
    const admin = await env.graphql(q, { id: pid });
    expect(admin.body.data.profile.events.nodes[0].properties).toEqual({ total: 42, coupon: 'coupon-secret' });
    const open = (await setPolicy({ element: 'event:Order Completed.properties.total', roles: ['app'] })).body.data.setFieldPolicy.id;
    try {
      const r = await env.graphql(q, { id: pid }, opts());
      expect(r.body.data.profile.events.nodes[0].properties).toEqual({ total: 42 });
    } finally {
      await deletePolicy(open);
    }
  });

  it('bad input: an unknown element, a purpose that does not exist, a mask that does not fit: an error naming the element and the rule, nothing saved', async () => {
    const before = (await env.graphql(`{ fieldPolicies { id } }`)).body.data.fieldPolicies.length;
    const unknown = await setPolicy({ element: 'shoe:size' });
    expect(unknown.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'element', rule: 'kind' });
    expect(unknown.body.errors[0].message).toContain('"shoe:size" is not a data element');
    const identity = await setPolicy({ element: 'identity:shoe_size' });
    expect(identity.body.errors[0].extensions).toMatchObject({ field: 'element', rule: 'identity' });
    const purpose = await setPolicy({ element: 'identity:phone', purposes: ['telepathy'] });
    expect(purpose.body.errors[0].message).toContain('"telepathy" is not a purpose (policy on identity:phone)');
    const mask = await setPolicy({ element: 'events', mask: 'hash' });
    expect(mask.body.errors[0].extensions).toMatchObject({ field: 'mask', rule: 'fits' });
    expect(mask.body.errors[0].message).toContain('events');
    expect((await env.graphql(`{ fieldPolicies { id } }`)).body.data.fieldPolicies.length).toBe(before);
  });

  it('explainAccess decides elements with the same function as the read', async () => {
    const ex = await env.graphql(`query($id: ID!) { explainAccess(profileId: $id, field: "identity:email", role: "app", purpose: "personalization") { allowed code reason } }`, { id: pid });
    expect(ex.body.data.explainAccess).toMatchObject({ allowed: false, code: 'FORBIDDEN_FIELD' });
    expect(ex.body.data.explainAccess.reason).toContain('traits.email is personal data');
  });
});

describe('derived fields (issue 12 point 5)', () => {
  it('a field that derives from events is denied with events; one from identity:email with the email datum', async () => {
    const q = `query($id: ID!) { profile(id: $id) { eventCount firstSeenAt emailDomain } }`;
    const admin = await env.graphql(q, { id: pid });
    expect(admin.body.data.profile.eventCount).toBeGreaterThan(0);
    expect(admin.body.data.profile.emailDomain).toBe('example.com');
    const app = await env.graphql(q, { id: pid }, opts());
    expect(app.body.data.profile.emailDomain).toBeNull(); // email is PII with no policy
    expect(app.body.data.profile.eventCount).toBeGreaterThan(0);
    const id = (await setPolicy({ element: 'events', purposes: ['marketing'] })).body.data.setFieldPolicy.id;
    try {
      const r = await env.graphql(q, { id: pid }, opts());
      expect(r.body.data.profile).toEqual({ eventCount: null, firstSeenAt: null, emailDomain: null });
      expect(r.body.errors.map((e: { path: string[] }) => e.path.join('.'))).toEqual(expect.arrayContaining(['profile.eventCount', 'profile.firstSeenAt']));
    } finally {
      await deletePolicy(id);
    }
  });
});
