import { definePlugin, RapportError, type PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// ctx.traits: a plugin reads trait values outside a request, for a purpose it declares, decided by the field
// policies as the guard decides Profile.traits.<key>, with each person's consent, and audited with the plugin as actor.
let captured: PluginContext;
const probe = definePlugin(() => ({
  name: 'probe',
  // personalization rests on consent: a person who never decided is not read.
  purposes: [{ name: 'personalization', description: 'Tailor the product.' }],
  onInit(ctx: PluginContext) {
    captured = ctx;
  },
}));

let kit: PluginTestkit;
const ids: Record<string, string> = {};
const UNKNOWN = '00000000-0000-4000-8000-000000000000';
const AUDIT = `query($id: ID!) { auditLog(profileId: $id) { actor action fields purpose requestId } }`;

beforeAll(async () => {
  kit = await createPluginTestkit([probe()], {
    consent: {
      piiTraits: ['phone'],
      policies: [
        { type: 'Profile', field: 'traits.favoriteColor', purposes: ['analytics'] },
        { type: 'Profile', field: 'traits.vipNote', roles: ['app'] },
        { type: 'Profile', field: 'traits.email', purposes: ['personalization'], pii: true },
      ],
    },
  });
  const traits = { plan: 'pro', seats: 12, trial: false, email: 'grants@example.com', phone: '+33600000000', favoriteColor: 'red', vipNote: 'x', address: { city: 'Paris' } };
  const r = await kit.ingest([
    { type: 'identify', userId: 'grants', traits },
    { type: 'identify', userId: 'silent', traits: { ...traits, email: 'silent@example.com' } },
    { type: 'identify', userId: 'refuses', traits: { ...traits, email: 'refuses@example.com' } },
    { type: 'identify', anonymousId: 'guest-of-grants' },
  ]);
  expect(r.rejected).toEqual([]);
  [ids.grants, ids.silent, ids.refuses, ids.guest] = r.accepted.map((a) => a.profileId!);
  const consent = `mutation($id: ID!, $g: Boolean!) { setConsent(input: { profileId: $id, purpose: "personalization", granted: $g }) { granted } }`;
  for (const id of [ids.grants, ids.guest]) expect((await kit.graphql(consent, { id, g: true })).errors).toBeUndefined();
  expect((await kit.graphql(consent, { id: ids.refuses, g: false })).errors).toBeUndefined();
  // The guest (who granted too) merges into the profile that granted: read by either id, it answers for the survivor.
  expect((await kit.ingest([{ type: 'alias', userId: 'grants', previousId: 'guest-of-grants' }])).rejected).toEqual([]);
  ids.live = (await kit.graphql(`{ profileByIdentity(type: "user_id", value: "grants") { id } }`)).data.profileByIdentity.id;
});
afterAll(async () => kit?.close());

async function refusal(p: Promise<unknown>): Promise<{ code: string; field?: string; rule?: string; message: string }> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(RapportError);
  const e = err as RapportError;
  return { code: e.code, field: e.field, rule: e.rule, message: e.message };
}

describe('ctx.traits.read', () => {
  it('gives the values of people whose consent allows the purpose, null for the others, and audits each person read', async () => {
    const asked = [ids.grants!, ids.silent!, ids.refuses!, ids.guest!, UNKNOWN, 'not-a-uuid'];
    const values = await captured.traits.read(asked, ['plan', 'seats', 'trial', 'email', 'address', 'missing'], 'personalization', { ref: 'probe-read-1' });
    const none = { plan: null, seats: null, trial: null, email: null, address: null, missing: null };
    expect(asked.map((id) => values.get(id))).toEqual([
      // An object (address) could hold nested data with policies of its own: null. Scalars keep their JSON type.
      { plan: 'pro', seats: 12, trial: false, email: 'grants@example.com', address: null, missing: null },
      none, // never decided: personalization rests on consent
      none, // refused
      { plan: 'pro', seats: 12, trial: false, email: 'grants@example.com', address: null, missing: null }, // merged into grants
      none,
      none,
    ]);
    // One entry for the person (the live profile both ids lead to).
    const audit = await kit.graphql(AUDIT, { id: ids.live });
    expect(audit.data.auditLog).toEqual([
      { actor: 'plugin:probe', action: 'read', fields: ['Profile.traits.email', 'Profile.traits.plan', 'Profile.traits.seats', 'Profile.traits.trial'], purpose: 'personalization', requestId: 'probe-read-1' },
    ]);
    for (const id of [ids.silent, ids.refuses]) expect((await kit.graphql(AUDIT, { id })).data.auditLog).toEqual([]);
  });

  it.each([
    ['a policy serving other purposes', 'favoriteColor', 'purpose', /policy Profile\.traits\.favoriteColor serves purposes \[analytics\]; the plugin reads for personalization/],
    ['a policy for some roles (the plugin reads as plugin:probe, never admin)', 'vipNote', 'role', /allows roles \[app\], not \[plugin:probe\]/],
    ['personal data no policy names (denied by default)', 'phone', 'default', /traits\.phone is personal data with no policy: denied by default/],
    ['personal data in another case (a variant of phone)', 'Phone', 'default', /traits\.Phone is personal data with no policy: denied by default/],
    ['personal data in full-width letters (a variant of phone)', 'ｐｈｏｎｅ', 'default', /personal data with no policy: denied by default/],
  ])('refuses a trait under %s, naming the trait and the rule, and reads nothing', async (_what, key, rule, reason) => {
    const e = await refusal(captured.traits.read([ids.grants!], ['plan', key], 'personalization'));
    expect(e).toMatchObject({ code: 'FORBIDDEN', field: `traits.${key}`, rule });
    expect(e.message).toMatch(reason);
    expect(await refusal(captured.traits.check([key], 'personalization'))).toEqual(e);
    expect((await kit.graphql(AUDIT, { id: ids.live })).data.auditLog).toHaveLength(1); // only the first test's read
  });

  it('refuses a purpose the plugin does not declare, and keys it does not read', async () => {
    expect(await refusal(captured.traits.read([ids.grants!], ['plan'], 'analytics'))).toMatchObject({ code: 'FORBIDDEN', field: 'purpose', rule: 'declared' });
    expect(await refusal(captured.traits.check(['address.city'], 'personalization'))).toMatchObject({ code: 'VALIDATION_FAILED', field: 'keys[0]', rule: 'topLevel' });
    expect(await refusal(captured.traits.check(['plan', ' '], 'personalization'))).toMatchObject({ code: 'VALIDATION_FAILED', field: 'keys[1]', rule: 'length' });
    expect(await refusal(captured.traits.check(['x'.repeat(201)], 'personalization'))).toMatchObject({ code: 'VALIDATION_FAILED', field: 'keys[0]', rule: 'length' });
  });

  it("follows an admin's policy change at once", async () => {
    await expect(captured.traits.check(['plan'], 'personalization')).resolves.toBeUndefined();
    const set = await kit.graphql(`mutation { setFieldPolicy(input: { element: "trait:plan", purposes: ["analytics"], roles: [], mask: "null", pii: false }) { id } }`);
    expect(set.errors).toBeUndefined();
    expect(await refusal(captured.traits.read([ids.grants!], ['plan'], 'personalization'))).toMatchObject({ code: 'FORBIDDEN', field: 'traits.plan', rule: 'purpose' });
  });
});
