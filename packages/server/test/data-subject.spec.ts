import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { loyaltyPlugin } from '../../../examples/custom-plugin/src';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [loyaltyPlugin()] });
});
afterAll(async () => env?.close());

describe('data subject rights', () => {
  it('exportProfile returns everything held on the person, plugin data included, and is audited', async () => {
    await env.post('/v1/identify', { userId: 'ds-1', anonymousId: 'ds-anon', traits: { email: 'ds@example.com', name: 'Dee' } });
    await env.post('/v1/track', { userId: 'ds-1', event: 'Order Completed', properties: { revenue: 120 } });
    await env.post('/v1/track', { userId: 'ds-1', event: 'Consent Updated', properties: { purpose: 'marketing', granted: false } });
    const id = (await env.graphql(`{ profileByIdentity(type: "user_id", value: "ds-1") { id } }`)).body.data.profileByIdentity.id;
    const r = await env.graphql(`mutation($id: ID!) { exportProfile(id: $id) }`, { id });
    expect(r.body.errors).toBeUndefined();
    const x = r.body.data.exportProfile;
    expect(x.profile.traits).toEqual({ email: 'ds@example.com', name: 'Dee' });
    expect(x.identities.map((i: { value: string }) => i.value).sort()).toEqual(['ds-1', 'ds-anon', 'ds@example.com']);
    expect(x.events).toHaveLength(3);
    expect(x.consents).toEqual([expect.objectContaining({ purpose: 'marketing', granted: false })]);
    expect(x.plugins.loyalty).toEqual([expect.objectContaining({ profile_id: id, orders: 1 })]);
    const log = await env.graphql(`query($id: ID!) { auditLog(profileId: $id) { action actor } }`, { id });
    expect(log.body.data.auditLog[0]).toEqual({ action: 'export', actor: 'test-admin' });
  });

  it('deleteProfile erases the person everywhere (plugins too), and future events with their identifiers are dropped', async () => {
    await env.post('/v1/identify', { userId: 'gone-1', traits: { email: 'gone@example.com' } });
    await env.post('/v1/track', { anonymousId: 'gone-anon', event: 'Order Completed', properties: { revenue: 50 } });
    await env.post('/v1/alias', { userId: 'gone-1', previousId: 'gone-anon' });
    const id = (await env.graphql(`{ profileByIdentity(type: "user_id", value: "gone-1") { id } }`)).body.data.profileByIdentity.id;
    const del = await env.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds suppressed } }`, { id });
    expect(del.body.errors).toBeUndefined();
    expect(del.body.data.deleteProfile.profileIds).toHaveLength(2); // the survivor and the merged-away profile
    expect(del.body.data.deleteProfile.suppressed).toBe(3);
    const counts = await env.sql(`SELECT
      (SELECT count(*) FROM rapport_profile WHERE id = ANY($1::uuid[]))::int AS profiles,
      (SELECT count(*) FROM rapport_event WHERE profile_id = ANY($1::uuid[]))::int AS events,
      (SELECT count(*) FROM rapport_identity WHERE value IN ('gone-1', 'gone-anon', 'gone@example.com'))::int AS identities,
      (SELECT count(*) FROM loyalty_account WHERE profile_id = ANY($1::uuid[]))::int AS loyalty,
      (SELECT count(*) FROM rapport_suppression WHERE identity_hash LIKE '%gone%')::int AS clear_text`, [del.body.data.deleteProfile.profileIds]);
    expect(counts[0]).toEqual({ profiles: 0, events: 0, identities: 0, loyalty: 0, clear_text: 0 });
    const again = await env.post('/v1/track', { userId: 'gone-1', event: 'Came back' }, { key: env.keys.admin });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ suppressed: true });
    expect(again.body.warnings[0]).toContain('suppression list');
    expect((await env.graphql(`{ profileByIdentity(type: "user_id", value: "gone-1") { id } }`)).body.data.profileByIdentity).toBeNull();
    const log = await env.graphql(`query($id: ID!) { auditLog(profileId: $id) { action } }`, { id });
    expect(log.body.data.auditLog[0].action).toBe('delete');
    // Nor through an alias naming a deleted id, nor counted as accepted in a batch.
    const alias = await env.post('/v1/alias', { userId: 'someone-new', previousId: 'gone-anon' }, { key: env.keys.admin });
    expect(alias.body).toMatchObject({ suppressed: true });
    const batch = await env.post('/v1/batch', { batch: [{ type: 'track', userId: 'gone-1', event: 'X' }, { type: 'track', userId: 'kept', event: 'Y' }] });
    expect(batch.body).toMatchObject({ accepted: 1, suppressed: 1 });
    expect(batch.body.results[0]).toEqual(expect.objectContaining({ suppressed: true }));
    expect(batch.body.results[0].profileId).toBeUndefined();
    const app = await env.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { suppressed } }`, { id }, { key: env.keys.app });
    expect(app.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});
