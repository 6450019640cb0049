import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * The guard decides an event's payload section once when only section-wide policies govern it
 * (`event:<name or *>.properties.*`), and key by key as soon as a policy names a key or a path of
 * it, on that event or on `*`: a read through `events { properties }` must give the same answer
 * either way (the keys a policy singles out, the paths below a key, personal data audited key by
 * key, denials reported key by key).
 */
let env: TestEnvironment;
let key: string;
let pid: string;
const opts = () => ({ key, headers: { 'x-rapport-purpose': 'personalization' } });
const Q = `query($id: ID!) { profile(id: $id) { events(first: 50) { nodes { name properties } } } }`;
const AUDIT = `query($id: ID!) { auditLog(profileId: $id, first: 50) { action fields } }`;
const setPolicy = async (input: Record<string, unknown>): Promise<string> =>
  (await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: input })).body.data.setFieldPolicy.id;
const deletePolicy = (id: string) => env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id });

type Read = { data: { profile: { events: { nodes: Array<{ name: string; properties: Record<string, unknown> }> } } }; errors?: Array<{ extensions: { code: string; field: string } }> };
const read = async (): Promise<Read> => (await env.graphql(Q, { id: pid }, opts())).body as Read;
const propertiesOf = (r: Read, name: string) => r.data.profile.events.nodes.find((e) => e.name === name)?.properties;
/** Runs `body` with these policies in place, then removes them. */
async function withPolicies(policies: Array<Record<string, unknown>>, body: () => Promise<void>): Promise<void> {
  const ids: string[] = [];
  try {
    for (const p of policies) ids.push(await setPolicy(p));
    await body();
  } finally {
    for (const id of ids) await deletePolicy(id);
  }
}

const ALL_OPEN = { element: 'event:*.properties.*', purposes: ['personalization'], roles: ['app'] };

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  key = (await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization"] }) { key } }`)).body.data.createApiKey.key;
  pid = (await env.post('/v1/identify', {
    userId: 'sections-1', traits: { plan: 'pro' }, context: { consent: { categoryPreferences: { personalization: true } } },
  }, { key: env.keys.admin })).body.profileId;
  await env.post('/v1/track', { userId: 'sections-1', event: 'Product Viewed', properties: { sku: 'p-1', card: 'card-viewed' } });
  await env.post('/v1/track', { userId: 'sections-1', event: 'Order Completed', properties: { total: 42, card: 'card-secret' } });
  await env.post('/v1/track', { userId: 'sections-1', event: 'Signup', properties: { address: { street: 'street-secret', city: 'Wellington' }, source: 'ad' } });
});
afterAll(async () => env?.close());

describe('event payload sections, decided whole or key by key', () => {
  it('a section-wide policy that allows opens every key of every event', async () => {
    await withPolicies([ALL_OPEN], async () => {
      const r = await read();
      expect(r.errors).toBeUndefined();
      expect(propertiesOf(r, 'Product Viewed')).toEqual({ sku: 'p-1', card: 'card-viewed' });
      expect(propertiesOf(r, 'Order Completed')).toEqual({ total: 42, card: 'card-secret' });
      expect(propertiesOf(r, 'Signup')).toEqual({ address: { street: 'street-secret', city: 'Wellington' }, source: 'ad' });
    });
  });

  it('a policy on one key of one event takes that key out of that event only, with an error naming it', async () => {
    await withPolicies([ALL_OPEN, { element: 'event:Order Completed.properties.card', roles: ['admin'] }], async () => {
      const r = await read();
      expect(propertiesOf(r, 'Order Completed')).toEqual({ total: 42 });
      expect(propertiesOf(r, 'Product Viewed')).toEqual({ sku: 'p-1', card: 'card-viewed' });
      expect(JSON.stringify(r.data)).not.toContain('card-secret');
      expect(r.errors?.map((e) => e.extensions.field)).toEqual(['event:Order Completed.properties.card']);
    });
  });

  it('a policy on one key of every event (`*`) takes it out of each event', async () => {
    await withPolicies([ALL_OPEN, { element: 'event:*.properties.card', roles: ['admin'] }], async () => {
      const r = await read();
      expect(propertiesOf(r, 'Order Completed')).toEqual({ total: 42 });
      expect(propertiesOf(r, 'Product Viewed')).toEqual({ sku: 'p-1' });
      expect(JSON.stringify(r.data)).not.toMatch(/card-/);
    });
  });

  it('a policy on a path below a key takes that path out and keeps the rest of the key', async () => {
    await withPolicies([ALL_OPEN, { element: 'event:Signup.properties.address.street', roles: ['admin'] }], async () => {
      const r = await read();
      expect(propertiesOf(r, 'Signup')).toEqual({ address: { city: 'Wellington' }, source: 'ad' });
      expect(JSON.stringify(r.data)).not.toContain('street-secret');
    });
  });

  it('a section-wide policy that denies takes every key out, each with its error', async () => {
    await withPolicies([{ ...ALL_OPEN, roles: ['admin'] }], async () => {
      const r = await read();
      expect(propertiesOf(r, 'Order Completed')).toEqual({});
      expect(propertiesOf(r, 'Product Viewed')).toEqual({});
      expect(new Set(r.errors?.map((e) => e.extensions.field))).toEqual(new Set([
        'event:Product Viewed.properties.sku', 'event:Product Viewed.properties.card', 'event:Order Completed.properties.total',
        'event:Order Completed.properties.card', 'event:Signup.properties.address', 'event:Signup.properties.source',
      ]));
    });
  });

  it('a section-wide policy on personal data audits each key read', async () => {
    await withPolicies([{ ...ALL_OPEN, element: 'event:Order Completed.properties.*', pii: true }, ALL_OPEN], async () => {
      const r = await read();
      expect(propertiesOf(r, 'Order Completed')).toEqual({ total: 42, card: 'card-secret' });
      const log = (await env.graphql(AUDIT, { id: pid })).body.data.auditLog;
      expect(log[0]).toEqual({ action: 'read', fields: ['event:Order Completed.properties.card', 'event:Order Completed.properties.total'] });
    });
  });

  it('with no policy on the section, its keys stay denied below admin', async () => {
    const r = await read();
    expect(propertiesOf(r, 'Product Viewed')).toEqual({});
    expect(r.errors?.length).toBeGreaterThan(0);
  });
});
