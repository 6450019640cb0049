import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { CONSENT_STATES as STATES, definePurposes, recordConsent, type ConsentStateName as State } from './support/consent-states';

/**
 * Issue 12, points 1 to 3: the legal-basis rules decide reads, filters, lookups and explainAccess
 * alike; lookups and filters on data the caller may not read behave as if the data did not exist.
 */
let env: TestEnvironment;
const BASES = { p_consent: 'consent', p_contract: 'contract', p_legal: 'legal_obligation', p_li: 'legitimate_interest' } as const;
/** docs/consent.md, "Legal bases": which consent states allow a read, per basis. */
const TABLE: Record<string, State[]> = {
  consent: ['granted'], contract: ['none', 'granted'], legal_obligation: ['none', 'granted'], legitimate_interest: ['none', 'granted'],
};
const pids: Record<State, string> = {} as Record<State, string>;
let key: string;
let supportKey: string;

const mkKey = async (roles: string[], purposes: string[]) =>
  (await env.graphql(`mutation($r: [String!]!, $p: [String!]) { createApiKey(input: { roles: $r, purposes: $p }) { key } }`, { r: roles, p: purposes })).body.data.createApiKey.key as string;
const setPolicy = async (input: Record<string, unknown>) => {
  const r = await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: input });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.setFieldPolicy.id as string;
};
const deletePolicy = (id: string) => env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });
const explain = async (id: string, field: string, purpose?: string | null) => {
  const r = await env.graphql(`query($id: ID!, $f: String!, $p: String) { explainAccess(profileId: $id, field: $f, role: "app", purpose: $p) { allowed code reason } }`,
    purpose === undefined ? { id, f: field } : { id, f: field, p: purpose });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.explainAccess as { allowed: boolean; code: string | null; reason: string };
};

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  await definePurposes(env, BASES);
  await env.graphql(`mutation { definePurpose(input: { name: "research", description: "Research panels", legalBasis: "consent" }) { name } }`);
  for (const s of STATES) {
    const r = await env.post('/v1/identify', { userId: `lb-${s}`, traits: { secret: `secret-${s}`, plan: `plan-${s}`, email: `${s}@example.com`, phone: `+44 20 7946 00${10 + STATES.indexOf(s)}` } }, { key: env.keys.admin });
    pids[s] = r.body.profileId;
    await recordConsent(env, `lb-${s}`, [...Object.keys(BASES), 'support', 'research'], s);
  }
  key = await mkKey(['app'], [...Object.keys(BASES), 'support', 'research']);
  supportKey = await mkKey(['app'], ['support', 'research']);
  await setPolicy({ type: 'Profile', field: 'traits.secret', purposes: Object.keys(BASES), roles: [] });
});
afterAll(async () => env?.close());

describe('legal bases (issue 12 point 1)', () => {
  it('an expired grant of a purpose based on contract does not open the data (trait, traits, mask, events, identities)', async () => {
    await setPolicy({ type: 'Profile', field: 'traits.plan', purposes: ['support', 'research'], roles: [], mask: 'mask' });
    const events = await setPolicy({ type: 'Profile', field: 'events', purposes: ['support', 'research'], roles: [] });
    const identities = await setPolicy({ type: 'Profile', field: 'identities', purposes: ['support', 'research'], roles: [] });
    const q = `query($id: ID!) { profile(id: $id) { p: trait(key: "plan") traits events { nodes { name } } identities { type value } } }`;
    try {
    const r = await env.graphql(q, { id: pids.expired }, { key: supportKey, headers: { 'x-rapport-purpose': 'support' } });
    const p = r.body.data.profile;
    expect(p.p).toBe('p***d'); // masked, not the value
    expect(p.traits.plan).toBeUndefined();
    expect(p.events).toBeNull();
    expect(p.identities).toBeNull();
    expect(JSON.stringify(r.body.data)).not.toContain('plan-expired');
    expect(r.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(expect.arrayContaining(['CONSENT_REQUIRED']));
    expect((await explain(pids.expired, 'Profile.traits.plan', 'support'))).toMatchObject({ allowed: false, code: 'CONSENT_REQUIRED' });
    // The same person never having decided: support (contract) needs no grant.
    const none = await env.graphql(q, { id: pids.none }, { key: supportKey, headers: { 'x-rapport-purpose': 'support' } });
    expect(none.body.data.profile.p).toBe('plan-none');
    } finally {
      await deletePolicy(events);
      await deletePolicy(identities);
    }
  });

  it('reads, explainAccess and filters follow the legal-basis table for every basis and consent state', async () => {
    for (const [purpose, basis] of Object.entries(BASES)) {
      const opts = { key, headers: { 'x-rapport-purpose': purpose } };
      const matched = await env.graphql(`{ profiles(first: 50, filter: { traits: { secret: "x" } }) { nodes { id } } }`, {}, opts);
      expect(matched.body.errors).toBeUndefined();
      for (const s of STATES) {
        const expected = TABLE[basis].includes(s);
        const read = await env.graphql(`query($id: ID!) { profile(id: $id) { s: trait(key: "secret") traits } }`, { id: pids[s] }, opts);
        expect(read.body.data.profile.s === `secret-${s}`, `${purpose} (${basis}), ${s}: read`).toBe(expected);
        expect(read.body.data.profile.traits.secret === `secret-${s}`, `${purpose} (${basis}), ${s}: traits`).toBe(expected);
        if (!expected) expect(JSON.stringify(read.body.data)).not.toContain(`secret-${s}`);
        const ex = await explain(pids[s], 'trait:secret', purpose);
        expect(ex.allowed, `${purpose} (${basis}), ${s}: explainAccess`).toBe(expected);
        if (!expected) expect(ex.code).toBe('CONSENT_REQUIRED');
        const filter = await env.graphql(`query($v: String!) { profiles(first: 50, filter: { traits: { secret: $v } }) { nodes { id } } }`, { v: `secret-${s}` }, opts);
        expect(filter.body.data.profiles.nodes.length, `${purpose} (${basis}), ${s}: filter`).toBe(expected ? 1 : 0);
      }
    }
  });

  it('a purpose needs a known legal basis', async () => {
    const bad = await env.graphql(`mutation { definePurpose(input: { name: "vague", description: "x", legalBasis: "because" }) { name } }`);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'legalBasis', rule: 'enum' });
  });
});

describe('explainAccess (issue 12 point 2)', () => {
  it('may omit the purpose: the read then acts for none', async () => {
    const ex = await explain(pids.granted, 'Profile.traits.secret');
    expect(ex).toMatchObject({ allowed: false, code: 'FORBIDDEN_FIELD' });
    expect(ex.reason).toContain('the request acts for no purpose');
    expect(await explain(pids.granted, 'Profile.traits.favoriteColor')).toMatchObject({ allowed: true, code: null });
  });
});

describe('lookups and filters are not oracles (issue 12 point 3)', () => {
  it('profileByIdentity on an identity type the caller may not read is FORBIDDEN, whatever the value', async () => {
    const q = `query($v: String!) { profileByIdentity(type: "email", value: $v) { id } }`;
    const opts = { key, headers: { 'x-rapport-purpose': 'p_consent' } };
    const known = await env.graphql(q, { v: 'granted@example.com' }, opts);
    const unknown = await env.graphql(q, { v: 'nobody@example.com' }, opts);
    expect(known.body.data?.profileByIdentity ?? null).toBeNull();
    expect(known.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(unknown.body.errors[0].message).toBe(known.body.errors[0].message);
    expect(unknown.body.errors[0].extensions).toEqual(known.body.errors[0].extensions);
    const f = `query($v: String!) { profiles(first: 5, filter: { identity: { type: "email", value: $v } }) { nodes { id } } }`;
    const fk = await env.graphql(f, { v: 'granted@example.com' }, opts);
    const fu = await env.graphql(f, { v: 'nobody@example.com' }, opts);
    expect(fk.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(fk.body.errors[0].message).toBe(fu.body.errors[0].message);
  });

  it('a lookup by an identity behind consent answers only for profiles whose consent allows it', async () => {
    await setPolicy({ element: 'identity:phone', purposes: ['p_consent'], roles: [] });
    const q = `query($v: String!) { profileByIdentity(type: "phone", value: $v) { id } }`;
    const opts = { key, headers: { 'x-rapport-purpose': 'p_consent' } };
    const granted = await env.graphql(q, { v: `+44 20 7946 00${10 + STATES.indexOf('granted')}` }, opts);
    expect(granted.body.data.profileByIdentity).toEqual({ id: pids.granted });
    for (const s of ['none', 'expired', 'denied'] as State[]) {
      const r = await env.graphql(q, { v: `+44 20 7946 00${10 + STATES.indexOf(s)}` }, opts);
      expect(r.body, s).toEqual({ data: { profileByIdentity: null } }); // exactly as for an unknown phone
    }
    const f = await env.graphql(`{ profiles(first: 50, filter: { identity: { type: "phone", value: "+44 20 7946 0013" } }) { nodes { id } } }`, {}, opts);
    expect(f.body.data.profiles.nodes).toEqual([]); // lb-denied's phone
  });

  it('a filter on a PII trait the caller may not read is FORBIDDEN before the value is looked at', async () => {
    const opts = { key, headers: { 'x-rapport-purpose': 'p_contract' } };
    const a = await env.graphql(`{ profiles(first: 5, filter: { traits: { email: "granted@example.com" } }) { nodes { id } } }`, {}, opts);
    const b = await env.graphql(`{ profiles(first: 5, filter: { traits: { email: "nobody@example.com" } }) { nodes { id } } }`, {}, opts);
    expect(a.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN', field: 'filter.traits.email' });
    expect(a.body.errors[0].message).toBe(b.body.errors[0].message);
  });
});
