import 'reflect-metadata';
import { definePlugin } from '@rapport/core';
import { EventType } from '@rapport/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FieldResolver, Resolver, Root } from 'type-graphql';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/** A third party's field on Event: its resolver reads a part of the event the query does not select. */
@Resolver(() => EventType)
class EventIpResolver {
  @FieldResolver(() => String, { nullable: true, description: 'The client address the event came from.' })
  clientIp(@Root() e: { context?: Record<string, unknown> }): string | null {
    return typeof e.context?.ip === 'string' ? e.context.ip : null;
  }
}

let env: TestEnvironment;
const ids: string[] = [];
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [definePlugin(() => ({ name: 'event-ip', resolvers: [EventIpResolver] }))()] });
  const batch = [];
  for (let i = 0; i < 12; i++) {
    batch.push({ type: 'identify', userId: `rp-${i}`, anonymousId: `rp-anon-${i}`, traits: { email: `rp${i}@example.com`, n: i }, timestamp: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() });
    for (let j = 0; j < i + 2; j++) {
      batch.push({
        type: 'track', userId: `rp-${i}`, event: `E${j}`, properties: { j, of: `rp-${i}` },
        context: { ip: `10.0.${i}.${j}`, traits: { email: `rp${i}@example.com` } }, timestamp: new Date(Date.UTC(2026, 0, 2, j, i)).toISOString(),
      });
    }
  }
  const r = await env.post('/v1/batch', { batch }, { key: env.keys.admin });
  expect(r.status).toBe(200);
  for (const x of r.body.results) if (!ids.includes(x.profileId)) ids.push(x.profileId);
});
afterAll(async () => env?.close());

const Q = `query($id: ID!, $n: Int!) { profile(id: $id) { id traits identities { type value } events(first: $n) { nodes { name properties } pageInfo { hasNextPage } } } }`;

describe('the read path under concurrency', () => {
  it('concurrent requests (which share statements) each get exactly their own profile, identities and events', async () => {
    // Each profile alone, one request at a time: the reference answers.
    const alone = new Map<string, unknown>();
    for (const [i, id] of ids.entries()) alone.set(`${id}|${(i % 3) + 1}`, (await env.graphql(Q, { id, n: (i % 3) + 1 })).body);
    // The same requests, 3 times over, all at once (the same profile with the same page several times too).
    const asks = [...ids, ...ids, ...ids].map((id) => ({ id, n: (ids.indexOf(id) % 3) + 1 }));
    const answers = await Promise.all(asks.map((a) => env.graphql(Q, a)));
    answers.forEach((r, k) => {
      expect(r.body.errors).toBeUndefined();
      expect(r.body).toEqual(alone.get(`${asks[k].id}|${asks[k].n}`));
      const p = r.body.data.profile;
      expect(p.id).toBe(asks[k].id);
      expect(p.events.nodes).toHaveLength(asks[k].n);
      const who = p.identities.find((x: { type: string }) => x.type === 'user_id').value;
      for (const e of p.events.nodes) expect(e.properties.of).toBe(who);
    });
    // A request that changes what it got does not change another's (answers are not shared objects).
    expect(new Set(answers.map((a) => a.body.data.profile.id)).size).toBe(ids.length);
  });

  it('profile reads that share one statement (profile, identities, events page) give each caller its own', async () => {
    // Asked in one turn of the event loop, as concurrent requests under load are: one statement.
    const reader = env.server.core.services.profileBundles;
    const plan = { identities: true, events: { first: 3, fields: ['name', 'properties'] as const } };
    const bundles = await Promise.all([...ids, ...ids].map((id) => reader.read([id], plan)));
    bundles.forEach(([b], k) => {
      const id = ids[k % ids.length];
      expect(b?.profile.id).toBe(id);
      const who = b!.identities!.find((i) => i.type === 'user_id')!.value;
      expect(b!.events!.nodes.length).toBe(3);
      for (const e of b!.events!.nodes) expect((e.properties as { of?: string }).of ?? who).toBe(who);
    });
    // The second caller of an id gets a copy, not the first caller's objects.
    expect(bundles[0][0]!.identities).not.toBe(bundles[ids.length][0]!.identities);
    expect(bundles[0][0]!.identities).toEqual(bundles[ids.length][0]!.identities);
  });

  it('an events page reads what the query selects, and a plugin field on Event still sees the whole event', async () => {
    const id = ids[5];
    const narrow = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 2) { nodes { type } edges { cursor } } } }`, { id });
    expect(narrow.body.errors).toBeUndefined();
    expect(narrow.body.data.profile.events.nodes).toEqual([{ type: 'track' }, { type: 'track' }]);
    const wide = await env.graphql(
      `query($id: ID!) { profile(id: $id) { events(first: 2) { nodes { ...E } } } } fragment E on Event { name userId anonymousId context messageId receivedAt sentAt }`,
      { id },
    );
    expect(wide.body.errors).toBeUndefined();
    const [first] = wide.body.data.profile.events.nodes;
    expect(first).toMatchObject({ name: 'E6', userId: 'rp-5', context: { ip: '10.0.5.6' } });
    expect(first.messageId).toEqual(expect.any(String));
    expect(first.receivedAt).toEqual(expect.any(String));
    // The plugin's field reads `context`, which the query does not select.
    const plugin = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 2) { nodes { name clientIp } } } }`, { id });
    expect(plugin.body.errors).toBeUndefined();
    expect(plugin.body.data.profile.events.nodes).toEqual([{ name: 'E6', clientIp: '10.0.5.6' }, { name: 'E5', clientIp: '10.0.5.5' }]);
    // Through an edge too.
    const edge = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 1) { edges { node { clientIp } } } } }`, { id });
    expect(edge.body.data.profile.events.edges).toEqual([{ node: { clientIp: '10.0.5.6' } }]);
  });

  it('the guard still decides the payload of every event read selectively (context.traits is trait data)', async () => {
    const id = ids[4];
    const policy = (await env.graphql(`mutation { setFieldPolicy(input: { element: "trait:email", roles: ["admin"], pii: true }) { id } }`)).body.data.setFieldPolicy.id;
    const r = await env.graphql(`query($id: ID!) { profile(id: $id) { events(first: 1) { nodes { context } } } }`, { id }, { key: env.keys.app });
    expect(r.body.data.profile.events.nodes[0].context).toEqual({ traits: {} }); // ip: an unclassified payload key, denied below admin
    expect(r.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toContain('FORBIDDEN_FIELD');
    await env.graphql(`mutation($id: ID!) { deleteFieldPolicy(id: $id) { id } }`, { id: policy });
  });
});

describe('auditing reads of personal data', () => {
  it('every concurrent read is in the audit log when its response arrives, with its own request id, and field names keep their commas', async () => {
    await env.graphql(`mutation { setFieldPolicy(input: { element: "trait:a,b", roles: ["app", "admin"], pii: true }) { id } }`);
    const id = ids[2];
    await env.post('/v1/identify', { userId: 'rp-2', traits: { 'a,b': 'comma' } }, { key: env.keys.admin });
    const reads = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        env.graphql(`query($id: ID!) { profile(id: $id) { trait(key: "a,b") } }`, { id }, { key: env.keys.app, headers: { 'x-request-id': `audit-${k}` } }),
      ),
    );
    for (const r of reads) expect(r.body.data.profile.trait).toBe('comma');
    const log = await env.graphql(`query($id: ID!) { auditLog(profileId: $id, first: 50) { action fields requestId } }`, { id });
    const mine = log.body.data.auditLog.filter((e: { requestId: string }) => e.requestId?.startsWith('audit-'));
    expect(mine.map((e: { requestId: string }) => e.requestId).sort()).toEqual(Array.from({ length: 20 }, (_, k) => `audit-${k}`).sort());
    for (const e of mine) expect(e).toMatchObject({ action: 'read', fields: ['Profile.traits.a,b'] });
  });
});
