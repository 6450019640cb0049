import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

// `consent.piiTraits: ['email']` makes `email` personal data: with no policy of its own it is denied to every reader
// but admin. A trait key that differs only in case or in Unicode compatibility forms (`Email`, full-width `ＥＭＡＩＬ`)
// is the same personal data and is denied the same way, through `trait(key:)`, `traits`, and a plugin's `ctx.traits`
// alike; a key in another script that only looks alike (Cyrillic `і`) is another key.
let env: TestEnvironment;
let id: string;
const FULL_WIDTH = 'ＥＭＡＩＬ';
const CYRILLIC = 'emaіl';

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  const r = await env.post('/v1/identify', { userId: 'pii-variants', traits: { email: 'a@example.com', Email: 'b@example.com', [FULL_WIDTH]: 'c@example.com', [CYRILLIC]: 'd', plan: 'pro' } }, { key: env.keys.admin });
  expect(r.status).toBe(200);
  await env.settle();
  const p = await env.graphql('{ profileByIdentity(type: "user_id", value: "pii-variants") { id } }');
  id = p.body.data.profileByIdentity.id;
});
afterAll(async () => env?.close());

it('denies every case and compatibility variant of a personal-data key to a non-admin reader, as the key itself', async () => {
  const q = `query($id: ID!, $a: String!, $b: String!, $c: String!) { profile(id: $id) { a: trait(key: $a) b: trait(key: $b) c: trait(key: $c) traits } }`;
  const r = await env.graphql(q, { id, a: 'Email', b: FULL_WIDTH, c: 'email' }, { key: env.keys.app });
  const p = r.body.data.profile;
  expect(p.a).toBeNull();
  expect(p.b).toBeNull();
  expect(p.c).toBeNull();
  expect(Object.keys(p.traits).sort()).toEqual([CYRILLIC, 'plan'].sort());
  const denied = (r.body.errors ?? []).filter((e: any) => e.extensions?.code === 'FORBIDDEN_FIELD').map((e: any) => e.extensions.field);
  expect(new Set(denied)).toEqual(new Set(['Profile.traits.Email', `Profile.traits.${FULL_WIDTH}`, 'Profile.traits.email']));
  expect(r.body.errors.find((e: any) => e.extensions.field === 'Profile.traits.Email').message).toMatch(/personal data with no policy: denied by default/);
  // Admin reads them all.
  const admin = await env.graphql(q, { id, a: 'Email', b: FULL_WIDTH, c: 'email' });
  expect(admin.body.data.profile).toMatchObject({ a: 'b@example.com', b: 'c@example.com', c: 'a@example.com' });
});

it('answers explainAccess for a variant as for the key itself', async () => {
  const q = `query($id: ID!, $f: String!) { explainAccess(profileId: $id, field: $f, role: "app") { allowed code } }`;
  for (const f of ['Profile.traits.email', 'Profile.traits.Email', `Profile.traits.${FULL_WIDTH}`]) {
    const r = await env.graphql(q, { id, f });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.explainAccess).toMatchObject({ allowed: false });
  }
});
