import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * Merges fold consents conservatively (docs/consent.md "Merges"): per purpose, a denial on either
 * side stays a denial, a grant is kept only when every side granted (a grant and no decision give
 * no decision), and the earliest expiry wins. The fold holds whether the decisions arrive before
 * or after the merge, for every kind of merge, and an unmerge gives each side its own back.
 *
 * Each case: side A (a user id) and side B (an anonymous id), with, per purpose,
 * - personalization (consent): A denied, B granted until 2031  -> denied     (leak 2)
 * - analytics (legitimate interest): A granted until 2021 (expired), B until 2031 -> expired (leak 3)
 * - research (consent): A granted, B never decided -> no decision          (leak 4)
 * - support (contract): A granted, B never decided -> no decision (readable: contract needs no grant)
 * read through `events` under a policy serving all four purposes.
 */
let env: TestEnvironment;
let key: string;

const PAST = '2021-03-01T00:00:00Z';
const FUTURE = '2031-03-01T00:00:00Z';

const decide = (ids: Record<string, string>, purpose: string, granted: boolean, expiresAt?: string, timestamp?: string) =>
  env.post('/v1/track', { ...ids, event: 'Consent Updated', ...(timestamp ? { timestamp } : {}), properties: { purpose, granted, ...(expiresAt ? { expiresAt } : {}) } });

async function decisions(tag: string) {
  const a = { userId: `${tag}-user` };
  const b = { anonymousId: `${tag}-anon` };
  await decide(a, 'personalization', false);
  await decide(b, 'personalization', true, FUTURE);
  await decide(a, 'analytics', true, PAST);
  await decide(b, 'analytics', true, FUTURE);
  await decide(a, 'research', true);
  await decide(a, 'support', true);
  // An older, contrary decision sent afterwards changes nothing.
  await decide(b, 'personalization', false, undefined, '2025-06-01T00:00:00Z');
  await decide(a, 'research', false, undefined, '2025-06-01T00:00:00Z');
}

/** The admin key: ingestion answers carry the profileId for keys that may read profiles. */
const admin = () => ({ key: env.keys.admin });

type Merge = 'alias' | 'shared identity' | 'mergeProfiles';

/** Creates the two sides (A first, so A survives an alias), merges them, returns the survivor and the merged-away id. */
async function pair(tag: string, merge: Merge, when: 'before' | 'after'): Promise<{ id: string; mergedId: string }> {
  const a = (await env.post('/v1/track', { userId: `${tag}-user`, event: 'Signed Up' }, admin())).body.profileId as string;
  const b = (await env.post('/v1/page', { anonymousId: `${tag}-anon`, name: 'Pricing' }, admin())).body.profileId as string;
  expect(a).not.toBe(b);
  if (when === 'before') await decisions(tag);
  let id: string;
  if (merge === 'alias') {
    id = (await env.post('/v1/alias', { userId: `${tag}-user`, previousId: `${tag}-anon` }, admin())).body.profileId;
  } else if (merge === 'shared identity') {
    id = (await env.post('/v1/track', { userId: `${tag}-user`, anonymousId: `${tag}-anon`, event: 'Logged In' }, admin())).body.profileId;
  } else {
    const r = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "test") { id } }`, { ids: [a, b] });
    id = r.body.data.mergeProfiles.id;
  }
  if (when === 'after') await decisions(tag);
  return { id, mergedId: id === a ? b : a };
}

const consentsOf = async (id: string) => {
  const r = await env.graphql(`query($id: ID!) { profile(id: $id) { consents { purpose granted effective expiresAt } } }`, { id });
  return Object.fromEntries(r.body.data.profile.consents.map((c: { purpose: string; granted: boolean; effective: boolean; expiresAt: string | null }) => [c.purpose, c]));
};

/** Reads `events` acting for `purpose`: true when allowed. */
async function eventsReadable(id: string, purpose: string): Promise<boolean> {
  const r = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 5) { nodes { name } } } }`, { id }, { key, headers: { 'x-rapport-purpose': purpose } });
  return r.body.data.profile.events !== null;
}

async function expectFolded(id: string) {
  const c = await consentsOf(id);
  expect.soft(c.personalization, 'A denied + B granted: denied').toMatchObject({ granted: false, effective: false });
  expect.soft(c.analytics, 'A expired + B granted: the earliest expiry').toMatchObject({ granted: true, effective: false, expiresAt: '2021-03-01T00:00:00.000Z' });
  expect.soft(c.research, 'A granted + B never decided: no grant').toBeUndefined();
  expect.soft(c.support, 'A granted + B never decided: no grant').toBeUndefined();
  expect.soft(await eventsReadable(id, 'personalization')).toBe(false);
  expect.soft(await eventsReadable(id, 'analytics')).toBe(false);
  expect.soft(await eventsReadable(id, 'research')).toBe(false);
  expect.soft(await eventsReadable(id, 'support')).toBe(true);
  // The profiles(filter: { seenSince }) list reads events: the merged profile is not listed for analytics.
  const list = await env.graphql(`{ profiles(first: 100, filter: { seenSince: "2020-01-01T00:00:00Z" }) { nodes { id } } }`, {}, { key, headers: { 'x-rapport-purpose': 'analytics' } });
  expect.soft(list.body.data.profiles.nodes.map((n: { id: string }) => n.id)).not.toContain(id);
}

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { policies: [] } });
  await env.graphql(`mutation { definePurpose(input: { name: "research", description: "Product research.", legalBasis: "consent" }) { name } }`);
  key = (await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization", "analytics", "research", "support"] }) { key } }`)).body.data.createApiKey.key;
  const p = await env.graphql(`mutation { setFieldPolicy(input: { element: "events", purposes: ["personalization", "analytics", "research", "support"] }) { id } }`);
  expect(p.body.errors).toBeUndefined();
});
afterAll(async () => env?.close());

describe('merges fold consents conservatively, whenever the decisions arrive', () => {
  let n = 0;
  for (const merge of ['alias', 'shared identity', 'mergeProfiles'] as const) {
    for (const when of ['before', 'after'] as const) {
      it(`${merge}, decisions ${when} the merge`, async () => {
        const { id } = await pair(`cmf-${n++}`, merge, when);
        await expectFolded(id);
      });
    }
  }

  it('an unmerge gives each side its own decisions back, also those that arrived after the merge', async () => {
    for (const when of ['before', 'after'] as const) {
      const tag = `cmu-${when}`;
      const { id, mergedId } = await pair(tag, 'mergeProfiles', when);
      await expectFolded(id);
      const u = await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: mergedId });
      expect(u.body.errors).toBeUndefined();
      const [aId, bId] = id === u.body.data.unmergeProfile.id ? [mergedId, id] : [id, mergedId];
      const lookup = async (type: string, value: string) =>
        (await env.graphql(`query($t: String!, $v: String!) { profileByIdentity(type: $t, value: $v) { id } }`, { t: type, v: value })).body.data.profileByIdentity.id;
      expect(await lookup('user_id', `${tag}-user`)).toBe(aId);
      expect(await lookup('anonymous_id', `${tag}-anon`)).toBe(bId);
      const a = await consentsOf(aId);
      const b = await consentsOf(bId);
      expect(a.personalization).toMatchObject({ granted: false });
      expect(b.personalization).toMatchObject({ granted: true, effective: true });
      expect(a.analytics).toMatchObject({ granted: true, effective: false });
      expect(b.analytics).toMatchObject({ granted: true, effective: true });
      expect(a.research).toMatchObject({ granted: true, effective: true });
      expect(b.research).toBeUndefined();
      expect(await eventsReadable(bId, 'personalization')).toBe(true);
      expect(await eventsReadable(aId, 'research')).toBe(true);
      expect(await eventsReadable(bId, 'research')).toBe(false);
    }
  });

  it('setConsent on a merged profile is a decision of the whole person: it overrides both sides', async () => {
    const { id, mergedId } = await pair('cms-0', 'alias', 'before');
    const r = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: true }) { granted effective } }`, { id: mergedId });
    expect(r.body.data.setConsent).toEqual({ granted: true, effective: true });
    expect((await consentsOf(id)).personalization).toMatchObject({ granted: true, effective: true });
    expect(await eventsReadable(id, 'personalization')).toBe(true);
  });
});

describe('a grant on one side and no decision on the other', () => {
  it('counts as no decision until the grant would have expired, then as an expired grant (contract basis)', async () => {
    const tag = 'partial';
    const a = (await env.post('/v1/track', { userId: `${tag}-user`, event: 'Signed Up' }, admin())).body.profileId as string;
    const b = (await env.post('/v1/page', { anonymousId: `${tag}-anon`, name: 'Pricing' }, admin())).body.profileId as string;
    const expiresAt = new Date(Date.now() + 4000);
    await decide({ userId: `${tag}-user` }, 'support', true, expiresAt.toISOString());
    const id = (await env.post('/v1/alias', { userId: `${tag}-user`, previousId: `${tag}-anon` }, admin())).body.profileId as string;
    expect([a, b]).toContain(id);
    expect(await eventsReadable(id, 'support')).toBe(true); // contract: no decision allows the read
    const explainNow = await env.graphql(`query($id: ID!) { explainAccess(profileId: $id, field: "events", role: "app", purpose: "support") { allowed } }`, { id });
    expect(explainNow.body.data.explainAccess.allowed).toBe(true);
    // A alone would be blocked once its grant expires; so is the merged person.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now()) + 500));
    expect(await eventsReadable(id, 'support')).toBe(false);
    const explainLater = await env.graphql(`query($id: ID!) { explainAccess(profileId: $id, field: "events", role: "app", purpose: "support") { allowed consentStates } }`, { id });
    expect(explainLater.body.data.explainAccess).toMatchObject({ allowed: false, consentStates: { support: 'expired' } });
    const list = await env.graphql(`{ profiles(first: 100, filter: { seenSince: "2020-01-01T00:00:00Z" }) { nodes { id } } }`, {}, { key, headers: { 'x-rapport-purpose': 'support' } });
    expect(list.body.data.profiles.nodes.map((n: { id: string }) => n.id)).not.toContain(id);
  });
});
