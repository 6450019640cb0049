import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authorized, FieldResolver, Resolver, Root } from 'type-graphql';
import { definePlugin, Permission, type ProfileRecord } from '@rapport/core';
import { Governed, Profile, type FallbackRoot } from '@rapport/schema/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * Field declarations that act: a field's purposes (and roles, pii, derivesFrom) declared on the
 * field with `@Governed`, or in a plugin's `fields`, are its default policy; an admin policy on the
 * field replaces it. A declared fallback answers a purpose or consent denial instead of null.
 */
const fallbackRoots: FallbackRoot[] = [];

@Resolver(() => Profile)
class GovernedProbeResolver {
  @Governed({ purposes: ['personalization'] })
  @FieldResolver(() => String, { nullable: true, description: 'Declared on the field: serves personalization.' })
  favoriteSnack(@Root() p: ProfileRecord): string | null {
    return (p.traits.snack as string | undefined) ?? null;
  }

  @FieldResolver(() => String, { nullable: true, description: "Declared in the plugin's fields: serves marketing." })
  campaignSegment(@Root() p: ProfileRecord): string {
    return `segment-of-${p.traits.snack}`;
  }

  @Governed({
    purposes: ['personalization'],
    fallback: (root) => {
      fallbackRoots.push(root);
      return 'house-special';
    },
  })
  @FieldResolver(() => String, { nullable: true, description: 'Personal pick, or the house special.' })
  snackPick(@Root() p: ProfileRecord): string {
    return `pick-${p.traits.snack}`;
  }

  @Authorized(Permission.PoliciesManage)
  @Governed({ purposes: ['personalization'], fallback: () => 'fallback-past-permission' })
  @FieldResolver(() => String, { nullable: true, description: 'Needs policies:manage, whatever the purpose.' })
  staffPick(@Root() p: ProfileRecord): string {
    return `staff-${p.traits.snack}`;
  }
}

const probe = definePlugin(() => ({
  name: 'governed-probe',
  resolvers: [GovernedProbeResolver],
  fields: [{ type: 'Profile', field: 'campaignSegment', purposes: ['marketing'] }],
}));

let env: TestEnvironment;
/** An app key that may act for personalization or marketing. */
let appKey: string;
let pid: string;
const as = (query: string, purpose: string, key = appKey) => env.graphql(query, { id: pid }, { key, headers: { 'x-rapport-purpose': purpose } });
const setConsent = async (purpose: string, granted: boolean) => {
  const r = await env.graphql(`mutation($i: ConsentInput!) { setConsent(input: $i) { granted } }`, { i: { profileId: pid, purpose, granted } });
  expect(r.body.errors).toBeUndefined();
};
const setPolicy = async (input: Record<string, unknown>): Promise<string> => {
  const r = await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: input });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.setFieldPolicy.id;
};
const deletePolicy = (id: string) => env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });
const explain = async (field: string, purpose: string) =>
  (await env.graphql(`query($id: ID!, $f: String!, $p: String) { explainAccess(profileId: $id, field: $f, role: "app", purpose: $p) { allowed code reason } }`, { id: pid, f: field, p: purpose })).body.data.explainAccess;

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [probe()] });
  const k = await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization", "marketing"] }) { key } }`);
  appKey = k.body.data.createApiKey.key;
  pid = (await env.post('/v1/identify', { userId: 'governed-1', traits: { snack: 'secret-snack' } }, { key: env.keys.admin })).body.profileId;
});
afterAll(async () => env?.close());

const SNACK = `query($id: ID!) { profile(id: $id) { id favoriteSnack } }`;
const SEGMENT = `query($id: ID!) { profile(id: $id) { campaignSegment } }`;
const PICK = `query($id: ID!) { profile(id: $id) { snackPick } }`;

describe('a declared field policy, with no admin policy', () => {
  it('@Governed purposes: another purpose is FORBIDDEN_FIELD, no consent is CONSENT_REQUIRED, the right purpose and a grant read it', async () => {
    let r = await as(SNACK, 'marketing');
    expect(r.body.data.profile).toEqual({ id: pid, favoriteSnack: null });
    expect(r.body.errors).toHaveLength(1);
    expect(r.body.errors[0]).toMatchObject({
      path: ['profile', 'favoriteSnack'],
      extensions: { code: 'FORBIDDEN_FIELD', field: 'Profile.favoriteSnack', reason: 'policy Profile.favoriteSnack [declared] serves purposes [personalization]; the request acts for marketing' },
    });
    expect(JSON.stringify(r.body)).not.toContain('secret-snack');

    r = await as(SNACK, 'personalization');
    expect(r.body.data.profile.favoriteSnack).toBeNull();
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'CONSENT_REQUIRED', field: 'Profile.favoriteSnack' });

    await setConsent('personalization', true);
    try {
      r = await as(SNACK, 'personalization');
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.favoriteSnack).toBe('secret-snack');
      // Still another purpose's request: denied, whatever the person granted.
      expect((await as(SNACK, 'marketing')).body.data.profile.favoriteSnack).toBeNull();
      // explainAccess decides on the declaration too.
      expect(await explain('Profile.favoriteSnack', 'personalization')).toMatchObject({ allowed: true });
      expect(await explain('Profile.favoriteSnack', 'marketing')).toMatchObject({ allowed: false, code: 'FORBIDDEN_FIELD' });
    } finally {
      await setConsent('personalization', false);
    }
  });

  it("a plugin's fields: [{ purposes }] declaration acts the same", async () => {
    let r = await as(SEGMENT, 'personalization');
    expect(r.body.data.profile.campaignSegment).toBeNull();
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN_FIELD', field: 'Profile.campaignSegment' });
    r = await as(SEGMENT, 'marketing');
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'CONSENT_REQUIRED', field: 'Profile.campaignSegment' });
    await setConsent('marketing', true);
    try {
      r = await as(SEGMENT, 'marketing');
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.campaignSegment).toBe('segment-of-secret-snack');
    } finally {
      await setConsent('marketing', false);
    }
  });
});

describe('an admin policy on the field replaces the declaration as a whole', () => {
  it('opens it to another purpose, or closes it to a role; deleting it brings the declaration back', async () => {
    const open = await setPolicy({ type: 'Profile', field: 'favoriteSnack', purposes: ['marketing'], roles: [] });
    try {
      await setConsent('marketing', true);
      // The declaration (personalization, not granted) no longer applies: the admin's purposes do.
      const r = await as(SNACK, 'marketing');
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.favoriteSnack).toBe('secret-snack');
      const other = await as(SNACK, 'personalization');
      expect(other.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN_FIELD', reason: expect.stringContaining('policy Profile.favoriteSnack serves purposes [marketing]') });
    } finally {
      await setConsent('marketing', false);
      await deletePolicy(open);
    }
    const closed = await setPolicy({ type: 'Profile', field: 'favoriteSnack', purposes: [], roles: ['admin'] });
    try {
      await setConsent('personalization', true);
      const r = await as(SNACK, 'personalization');
      expect(r.body.data.profile.favoriteSnack).toBeNull();
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'FORBIDDEN_FIELD', reason: expect.stringContaining('allows roles [admin]') });
    } finally {
      await deletePolicy(closed);
    }
    try {
      // Back to the declaration: personalization, granted.
      expect((await as(SNACK, 'personalization')).body.data.profile.favoriteSnack).toBe('secret-snack');
      expect((await as(SNACK, 'marketing')).body.data.profile.favoriteSnack).toBeNull();
    } finally {
      await setConsent('personalization', false);
    }
  });
});

describe('a declared fallback', () => {
  it('answers a purpose denial and a consent denial with its value and no error; it gets the profile id only', async () => {
    fallbackRoots.length = 0;
    for (const purpose of ['marketing', 'personalization']) {
      const r = await as(PICK, purpose);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.snackPick).toBe('house-special');
      expect(r.body.extensions ?? {}).toEqual({});
    }
    expect(fallbackRoots).toHaveLength(2);
    for (const root of fallbackRoots) expect({ ...root }).toEqual({ id: pid, profileId: pid }); // nothing of the profile's data
    await setConsent('personalization', true);
    try {
      const r = await as(PICK, 'personalization');
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.snackPick).toBe('pick-secret-snack');
      expect(fallbackRoots).toHaveLength(2);
    } finally {
      await setConsent('personalization', false);
    }
  });

  it('answers a purpose denial of an admin policy too, but never a role denial', async () => {
    const id = await setPolicy({ type: 'Profile', field: 'snackPick', purposes: ['support'], roles: ['app'] });
    try {
      const r = await as(PICK, 'personalization');
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.profile.snackPick).toBe('house-special');
    } finally {
      await deletePolicy(id);
    }
    const admins = await setPolicy({ type: 'Profile', field: 'snackPick', purposes: ['personalization'], roles: ['admin'] });
    try {
      const r = await as(PICK, 'marketing'); // role and purpose both fail: the role decides, no fallback
      expect(r.body.data.profile.snackPick).toBeNull();
      expect(r.body.errors[0]).toMatchObject({ path: ['profile', 'snackPick'], extensions: { code: 'FORBIDDEN_FIELD', reason: expect.stringContaining('allows roles [admin]') } });
    } finally {
      await deletePolicy(admins);
    }
  });

  it('a caller without the field\'s permission gets its FORBIDDEN error, not the fallback', async () => {
    const STAFF = `query($id: ID!) { profile(id: $id) { staffPick } }`;
    const r = await as(STAFF, 'marketing');
    expect(r.body.data.profile.staffPick).toBeNull();
    expect(r.body.errors[0]).toMatchObject({ path: ['profile', 'staffPick'], extensions: { code: 'FORBIDDEN' } });
    expect(JSON.stringify(r.body)).not.toContain('fallback-past-permission');
    // An admin (who has the permission) acting for another purpose gets the fallback.
    const admin = await as(STAFF, 'marketing', env.keys.admin);
    expect(admin.body.errors).toBeUndefined();
    expect(admin.body.data.profile.staffPick).toBe('fallback-past-permission');
  });

  it('explainAccess says the field answers with its fallback', async () => {
    expect(await explain('Profile.snackPick', 'marketing')).toMatchObject({ allowed: false, code: 'FORBIDDEN_FIELD', reason: expect.stringContaining('declared fallback') });
  });
});
