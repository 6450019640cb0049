import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
const profileIds: string[] = [];
beforeAll(async () => {
  env = await createTestEnvironment();
  // 60 people, each with an identify and 6 events spread over time.
  const batch = [];
  for (let i = 0; i < 60; i++) {
    batch.push({ type: 'identify', userId: `gq-${i}`, traits: { email: `gq${i}@example.com`, tier: i % 2 ? 'gold' : 'silver', i }, timestamp: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() });
    for (let j = 0; j < 6; j++) {
      batch.push({ type: j % 2 ? 'page' : 'track', userId: `gq-${i}`, event: `Event ${j}`, name: `Page ${j}`, timestamp: new Date(Date.UTC(2026, 0, 2, j, i)).toISOString() });
    }
  }
  const r = await env.post('/v1/batch', { batch }, { key: env.keys.admin });
  expect(r.status).toBe(200);
  for (let i = 0; i < 60; i++) profileIds.push(r.body.results[i * 7].profileId);
});
afterAll(async () => env?.close());

describe('reading profiles', () => {
  it('profile(id) returns traits, trait(key), identities, events and timestamps', async () => {
    const r = await env.graphql(`query($id: ID!) { profile(id: $id) { id traits email: trait(key: "email") missing: trait(key: "nope")
      identities { type value firstSeenAt } createdAt updatedAt firstSeenAt lastSeenAt mergedFrom { id }
      events(first: 3) { edges { cursor node { type name timestamp } } pageInfo { hasNextPage endCursor } } } }`, { id: profileIds[7] });
    expect(r.body.errors).toBeUndefined();
    const p = r.body.data.profile;
    expect(p.traits).toEqual({ email: 'gq7@example.com', tier: 'gold', i: 7 });
    expect(p.email).toBe('gq7@example.com');
    expect(p.missing).toBeNull();
    expect(p.identities.map((i: { type: string }) => i.type).sort()).toEqual(['email', 'user_id']);
    expect(p.firstSeenAt).toBe('2026-01-01T00:07:00.000Z');
    expect(p.lastSeenAt).toBe('2026-01-02T05:07:00.000Z');
    expect(p.events.edges.map((e: { node: { name: string } }) => e.node.name)).toEqual(['Page 5', 'Event 4', 'Page 3']);
    expect(p.events.pageInfo.hasNextPage).toBe(true);
  });

  it('events paginate with after, and filter by type and name', async () => {
    const q = `query($id: ID!, $after: String) { profile(id: $id) { events(first: 4, after: $after) { nodes { name type } pageInfo { hasNextPage endCursor } } } }`;
    const one = (await env.graphql(q, { id: profileIds[3] })).body.data.profile.events;
    const two = (await env.graphql(q, { id: profileIds[3], after: one.pageInfo.endCursor })).body.data.profile.events;
    expect(one.nodes).toHaveLength(4);
    expect(two.nodes).toHaveLength(3);
    expect(two.pageInfo.hasNextPage).toBe(false);
    expect([...one.nodes, ...two.nodes].map((n: { type: string }) => n.type)).toEqual(['page', 'track', 'page', 'track', 'page', 'track', 'identify']);
    const f = await env.graphql(`query($id: ID!) { profile(id: $id) { tracks: events(type: "track") { nodes { name } } named: events(name: "Event 2") { nodes { name } } } }`, { id: profileIds[3] });
    expect(f.body.data.profile.tracks.nodes.map((n: { name: string }) => n.name)).toEqual(['Event 4', 'Event 2', 'Event 0']);
    expect(f.body.data.profile.named.nodes).toEqual([{ name: 'Event 2' }]);
  });

  it('profiles(first, after, filter) is a Relay connection over live profiles', async () => {
    const q = `query($after: String, $f: ProfileFilter) { profiles(first: 25, after: $after, filter: $f) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const r = await env.graphql(q, { after });
      const c = r.body.data.profiles;
      seen.push(...c.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!c.pageInfo.hasNextPage) break;
      after = c.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(60);
    expect(seen).toEqual(expect.arrayContaining(profileIds));
    const gold = await env.graphql(q, { f: { traits: { tier: 'gold' } } });
    expect(gold.body.data.profiles.edges).toHaveLength(25);
    const byEmail = await env.graphql(q, { f: { identity: { type: 'email', value: 'GQ9@example.com' } } });
    expect(byEmail.body.data.profiles.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([profileIds[9]]);
  });

  it('batches child reads: profiles(first: 50) { identities events(first: 5) } runs a constant number of SQL statements', async () => {
    const q = (n: number) => `{ profiles(first: ${n}) { nodes { id identities { type value } events(first: 5) { nodes { name } } mergedFrom { id } } } }`;
    await env.graphql(q(1)); // warm the key cache
    const small = await env.countSql(() => env.graphql(q(5)));
    const large = await env.countSql(() => env.graphql(q(50)));
    expect(large.result.body.data.profiles.nodes).toHaveLength(50);
    expect(large.result.body.data.profiles.nodes[10].events.nodes).toHaveLength(5);
    expect(large.statements.length).toBe(small.statements.length);
    // profiles, their consents (the guard decides identities and events per person), identities, events, merges
    expect(large.statements.length).toBeLessThanOrEqual(5);
  });

  it('concurrent profile(id) requests share their profile reads, and each gets its own profile', async () => {
    const q = `query($id: ID!) { profile(id: $id) { id email: trait(key: "email") i: trait(key: "i") } }`;
    const asked = [...profileIds.slice(0, 24), ...profileIds.slice(0, 4)]; // 4 asked twice
    await Promise.all(asked.map(() => env.graphql(q, { id: profileIds[0] }))); // open the connections, warm the key cache
    const { result, statements } = await env.countSql(() => Promise.all(asked.map((id) => env.graphql(q, { id }))));
    result.forEach((r, k) => {
      const i = profileIds.indexOf(asked[k]);
      expect(r.body.data.profile).toEqual({ id: asked[k], email: `gq${i}@example.com`, i });
    });
    const reads = statements.filter((x) => x.includes('FROM rapport_consent c WHERE c.profile_id = p.id'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThan(asked.length); // 28 requests, fewer statements
  });

  it('bad arguments are clear errors naming the argument', async () => {
    const r = await env.graphql(`{ profiles(first: 0) { nodes { id } } }`);
    expect(r.body.errors[0]).toMatchObject({ extensions: { code: 'VALIDATION_FAILED', field: 'first', rule: 'range' } });
    const c = await env.graphql(`{ profiles(first: 5, after: "garbage") { nodes { id } } }`);
    expect(c.body.errors[0].message).toContain('after: "garbage" is not a cursor');
    const p = await env.graphql(`{ profileByIdentity(type: "email", value: "nope") { id } }`);
    expect(p.body.errors[0]).toMatchObject({ extensions: { field: 'value', rule: 'email' } });
    expect((await env.graphql(`{ profile(id: "not-a-uuid") { id } }`)).body.data.profile).toBeNull();
  });
});

