import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

const CONSENTS = `query($t: String!, $v: String!) { profileByIdentity(type: $t, value: $v) { id
  consents { purpose granted effective source at expiresAt } consentHistory { purpose granted source actor } } }`;
async function consentsOf(t: string, v: string) {
  const r = await env.graphql(CONSENTS, { t, v });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity;
}
const asMap = (cs: Array<{ purpose: string; granted: boolean }>) => Object.fromEntries(cs.map((c) => [c.purpose, c.granted]));

describe('purposes', () => {
  it('are data: seeded, listed, and defined by admins', async () => {
    const list = await env.graphql(`{ purposes { name legalBasis } }`);
    expect(list.body.data.purposes.map((p: { name: string }) => p.name)).toEqual(['analytics', 'marketing', 'personalization', 'support']);
    const d = await env.graphql(`mutation { definePurpose(input: { name: "research", description: "Product research panels", legalBasis: "consent" }) { name } }`);
    expect(d.body.data.definePurpose.name).toBe('research');
    const bad = await env.graphql(`mutation { definePurpose(input: { name: "Bad Name", description: "x", legalBasis: "consent" }) { name } }`);
    expect(bad.body.errors[0].extensions).toMatchObject({ field: 'name', rule: 'pattern' });
    const app = await env.graphql(`mutation { definePurpose(input: { name: "x", description: "x", legalBasis: "consent" }) { name } }`, {}, { key: env.keys.app });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('consent arrives', () => {
  it('with Segment context.consent.categoryPreferences on any message', async () => {
    const r = await env.post('/v1/identify', {
      userId: 'c-1', traits: { name: 'C' }, context: { consent: { categoryPreferences: { Advertising: false, Analytics: true, Personalization: true } } },
    });
    expect(r.status).toBe(200);
    const p = await consentsOf('user_id', 'c-1');
    expect(asMap(p.consents)).toEqual({ analytics: true, marketing: false, personalization: true });
    expect(p.consents[0].source).toBe('segment:context.consent');
    expect(p.consentHistory).toHaveLength(3);
    expect(p.consentHistory[0].actor).toBe('test-ingest');
  });

  it('with a Consent Updated track event, including an expiry', async () => {
    await env.post('/v1/track', { userId: 'c-2', event: 'Consent Updated', properties: { purpose: 'marketing', granted: true, expiresAt: '2000-01-01T00:00:00Z' } });
    await env.post('/v1/track', { userId: 'c-2', event: 'Consent Updated', properties: { purpose: 'support', granted: true } });
    const p = await consentsOf('user_id', 'c-2');
    expect(p.consents).toEqual([
      expect.objectContaining({ purpose: 'marketing', granted: true, effective: false, expiresAt: '2000-01-01T00:00:00.000Z' }),
      expect.objectContaining({ purpose: 'support', granted: true, effective: true, source: 'track:Consent Updated' }),
    ]);
  });

  it('through the setConsent mutation; a revocation shows on the very next read; unknown purposes are refused', async () => {
    const { id } = await consentsOf('user_id', 'c-1');
    const grant = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "marketing", granted: true }) { purpose granted effective source } }`, { id });
    expect(grant.body.data.setConsent).toEqual({ purpose: 'marketing', granted: true, effective: true, source: 'graphql' });
    expect(asMap((await consentsOf('user_id', 'c-1')).consents).marketing).toBe(true);
    await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "marketing", granted: false }) { granted } }`, { id });
    expect(asMap((await consentsOf('user_id', 'c-1')).consents).marketing).toBe(false);
    const bad = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "telepathy", granted: true }) { granted } }`, { id });
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'purpose', rule: 'enum' });
    expect(bad.body.errors[0].message).toContain('"telepathy" is not a purpose; purposes are analytics, marketing, personalization, research, support');
  });

  it('an ingested consent for an unknown category is reported as a warning; the message is kept', async () => {
    const r = await env.post('/v1/track', { userId: 'c-3', event: 'X', context: { consent: { categoryPreferences: { Telepathy: true, Analytics: false } } } }, { key: env.keys.admin });
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual(['consent for "telepathy" was ignored: it is not a purpose (define it first)']);
    expect(asMap((await consentsOf('user_id', 'c-3')).consents)).toEqual({ analytics: false });
  });

  it('keeps the latest decision by event time, whatever the arrival order', async () => {
    await env.post('/v1/track', { userId: 'c-4', event: 'Consent Updated', timestamp: '2026-03-01T00:00:00Z', properties: { purpose: 'analytics', granted: false } });
    await env.post('/v1/track', { userId: 'c-4', event: 'Consent Updated', timestamp: '2026-01-01T00:00:00Z', properties: { purpose: 'analytics', granted: true } });
    const p = await consentsOf('user_id', 'c-4');
    expect(asMap(p.consents)).toEqual({ analytics: false });
    expect(p.consentHistory).toHaveLength(2);
  });
});

describe('merges', () => {
  it('merge consents conservatively (a denial on either side stays a denial), and an unmerge gives each side its own back', async () => {
    await env.post('/v1/identify', { userId: 'cm-user', context: { consent: { categoryPreferences: { marketing: true, personalization: true } } } });
    await env.post('/v1/identify', { anonymousId: 'cm-anon', context: { consent: { categoryPreferences: { marketing: false, analytics: true } } } });
    await env.post('/v1/alias', { userId: 'cm-user', previousId: 'cm-anon' });
    const merged = await consentsOf('user_id', 'cm-user');
    // A grant on one side and no decision on the other is not kept (a grant survives only when every side granted).
    expect(asMap(merged.consents)).toEqual({ marketing: false });
    expect(merged.consents.find((c: { purpose: string }) => c.purpose === 'marketing').source).toBe('merge');
    const history = await env.graphql(`query($id: ID!) { profile(id: $id) { mergeHistory { mergedId } } }`, { id: merged.id });
    const mergedId = history.body.data.profile.mergeHistory[0].mergedId;
    await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: mergedId });
    expect(asMap((await consentsOf('user_id', 'cm-user')).consents)).toEqual({ marketing: true, personalization: true });
    expect(asMap((await consentsOf('anonymous_id', 'cm-anon')).consents)).toEqual({ marketing: false, analytics: true });
  });
});
