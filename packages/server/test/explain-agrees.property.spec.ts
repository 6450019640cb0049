import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { CONSENT_STATES as STATES, definePurposes, recordConsent, type ConsentStateName as State } from './support/consent-states';

/**
 * Issue 12, point 2: one decision function serves reads and `explainAccess`, so they cannot
 * disagree. For random policies on data elements, consent states, roles and purposes, a read's
 * outcome through GraphQL equals `explainAccess`'s verdict for the same case.
 */
let env: TestEnvironment;
const PURPOSES = { p_consent: 'consent', p_contract: 'contract', p_legal: 'legal_obligation', p_li: 'legitimate_interest' } as const;
const profiles = {} as Record<State, string>;
const keys = {} as Record<'app' | 'admin', string>;

/** Each element, the query that reads it, and whether the answer holds the value. */
const ELEMENTS: Record<string, { query: string; got: (p: any, s: State) => boolean }> = {
  'trait:plan': { query: `trait(key: "plan")`, got: (p, s) => p?.trait === `plan-${s}` },
  'trait:email': { query: `trait(key: "email")`, got: (p, s) => p?.trait === `${s}@example.com` },
  'identity:email': { query: `identities { type value }`, got: (p, s) => (p?.identities ?? []).some((i: { value: string }) => i.value === `${s}@example.com`) },
  'identity:user_id': { query: `identities { type value }`, got: (p, s) => (p?.identities ?? []).some((i: { value: string }) => i.value === `ex-${s}`) },
  events: { query: `events(first: 5) { nodes { id } }`, got: (p) => Array.isArray(p?.events?.nodes) && p.events.nodes.length > 0 },
  identities: { query: `identities { type }`, got: (p) => Array.isArray(p?.identities) && p.identities.length > 0 },
};

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  await definePurposes(env, PURPOSES);
  for (const s of STATES) {
    const r = await env.post('/v1/identify', { userId: `ex-${s}`, traits: { plan: `plan-${s}`, email: `${s}@example.com` } }, { key: env.keys.admin });
    profiles[s] = r.body.profileId;
    await recordConsent(env, `ex-${s}`, Object.keys(PURPOSES), s);
  }
  for (const role of ['app', 'admin'] as const) {
    const r = await env.graphql(`mutation($r: [String!]!, $p: [String!]) { createApiKey(input: { roles: $r, purposes: $p }) { key } }`, { r: [role], p: Object.keys(PURPOSES) });
    keys[role] = r.body.data.createApiKey.key;
  }
});
afterAll(async () => env?.close());

it('for random policies, consents, roles and purposes, a read does what explainAccess says it would', async () => {
  const purposeNames = Object.keys(PURPOSES);
  const cases = fc.record({
    element: fc.constantFrom(...Object.keys(ELEMENTS)),
    policy: fc.option(fc.record({
      purposes: fc.subarray(purposeNames),
      roles: fc.subarray(['app', 'admin']),
    }), { nil: null }),
    state: fc.constantFrom(...STATES),
    role: fc.constantFrom('app' as const, 'admin' as const),
    purpose: fc.option(fc.constantFrom(...purposeNames), { nil: null }),
  });
  await fc.assert(
    fc.asyncProperty(cases, async (c) => {
      let policyId: string | null = null;
      if (c.policy) {
        const r = await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: { element: c.element, ...c.policy } });
        expect(r.body.errors).toBeUndefined();
        policyId = r.body.data.setFieldPolicy.id;
      }
      try {
        const id = profiles[c.state];
        const headers: Record<string, string> = c.purpose ? { 'x-rapport-purpose': c.purpose } : {};
        const read = await env.graphql(`query($id: ID!) { profile(id: $id) { id ${ELEMENTS[c.element].query} } }`, { id }, { key: keys[c.role], headers });
        expect(read.status).toBe(200);
        const readAllowed = ELEMENTS[c.element].got(read.body.data?.profile, c.state);
        const explained = await env.graphql(
          `query($id: ID!, $f: String!, $r: String!, $p: String) { explainAccess(profileId: $id, field: $f, role: $r, purpose: $p) { allowed code reason } }`,
          { id, f: c.element, r: c.role, p: c.purpose },
        );
        expect(explained.body.errors).toBeUndefined();
        expect({ case: c, allowed: readAllowed }).toEqual({ case: c, allowed: explained.body.data.explainAccess.allowed });
      } finally {
        if (policyId) await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id: policyId });
      }
    }),
    { numRuns: Number(process.env.EXPLAIN_RUNS ?? 150), seed: Number(process.env.EXPLAIN_SEED ?? 12) },
  );
}, 240_000);
