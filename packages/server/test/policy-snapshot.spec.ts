import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * Every request's guard starts from the policy and purpose snapshots (kept 5 s). A policy change on
 * this node makes them stale at once: the requests that follow read the policies again (once, not
 * each; `SnapshotCache` shares a reload, see its unit tests in core) and every one of them decides
 * with the changed policy.
 */
let env: TestEnvironment;
let key: string;
let pid: string;
const READ = `query($id: ID!) { profile(id: $id) { traits } }`;

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
  key = (await env.graphql(`mutation { createApiKey(input: { roles: ["app"], purposes: ["personalization"] }) { key } }`)).body.data.createApiKey.key;
  pid = (await env.post('/v1/identify', {
    userId: 'snapshot-1', traits: { plan: 'pro', tier: 'gold' }, context: { consent: { categoryPreferences: { personalization: true } } },
  }, { key: env.keys.admin })).body.profileId;
});
afterAll(async () => env?.close());

describe('policy and purpose snapshots', () => {
  it('concurrent requests after a policy change read the policies once, and all decide with the change', async () => {
    const opts = { key, headers: { 'x-rapport-purpose': 'personalization' } };
    expect((await env.graphql(READ, { id: pid }, opts)).body.data.profile.traits).toEqual({ plan: 'pro', tier: 'gold' });
    await env.graphql(`mutation($i: FieldPolicyInput!) { setFieldPolicy(input: $i) { id } }`, { i: { element: 'trait:tier', roles: ['admin'] } });
    const { result, statements } = await env.countSql(() => Promise.all(Array.from({ length: 20 }, () => env.graphql(READ, { id: pid }, opts))));
    for (const r of result) expect(r.body.data.profile.traits).toEqual({ plan: 'pro' });
    expect(statements.filter((s) => /FROM rapport_field_policy/.test(s))).toHaveLength(1);
  });
});
