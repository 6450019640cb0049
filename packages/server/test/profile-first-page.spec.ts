import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// `profile(id) { events(first: n) }` without cursor or filter is read inside the profile's own statement (the bundle:
// prepared, its page from rapport_event_newest, or from the page function when `context` or `traits` is selected).
// Whatever the path, the page is the profile's newest events in (timestamp DESC, id DESC) order, ties included, for the
// live profile an asked id leads to (a merged-away id follows its tombstone), with the right hasNextPage and a cursor
// that continues it.
let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

async function send(path: string, body: object): Promise<string> {
  const r = await env.post(path, body, { key: env.keys.admin });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.profileId as string;
}

const FIELDS = { light: 'id type name timestamp properties', full: 'id type name timestamp properties context traits messageId userId anonymousId' };

async function firstPage(id: string, first: number, fields: string) {
  const r = await env.graphql(`query($id: ID!, $first: Int!) { profile(id: $id) { id events(first: $first) { nodes { ${fields} } pageInfo { hasNextPage endCursor } } } }`, { id, first });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profile as { id: string; events: { nodes: Array<Record<string, unknown>>; pageInfo: { hasNextPage: boolean; endCursor: string } } };
}

it('reads the newest events in order, ties by id, for the live profile of a merged-away id, on both read paths', async () => {
  const at = '2026-03-01T10:00:00.000Z';
  const survivor = await send('/v1/identify', { userId: 'fp-user', traits: { plan: 'pro' }, timestamp: '2026-03-01T09:00:00.000Z' });
  const merged = await send('/v1/track', { anonymousId: 'fp-anon', event: 'Before', properties: { n: 0 }, timestamp: '2026-03-01T09:30:00.000Z' });
  expect(merged).not.toBe(survivor);
  // Five events at one instant (the order among them is by id), and one later.
  const batch = [1, 2, 3, 4, 5].map((n) => ({ type: 'track', userId: 'fp-user', event: `Tie ${n}`, properties: { n }, context: { page: { path: `/t/${n}` } }, timestamp: at }));
  batch.push({ type: 'track', userId: 'fp-user', event: 'Latest', properties: { n: 6 }, context: { page: { path: '/t/6' } }, timestamp: '2026-03-01T11:00:00.000Z' });
  const r = await env.post('/v1/batch', { batch }, { key: env.keys.admin });
  expect(r.status).toBe(200);
  expect(await send('/v1/alias', { userId: 'fp-user', previousId: 'fp-anon' })).toBe(survivor);

  const rows = await env.sql(
    `SELECT id::text, name, context FROM rapport_event WHERE profile_id = $1 ORDER BY timestamp DESC, id DESC`, [survivor],
  );
  // The identify, the anonymous track, five ties, the latest, and the alias itself.
  expect(rows.length).toBe(9);
  for (const asked of [survivor, merged]) {
    for (const [shape, fields] of Object.entries(FIELDS)) {
      for (const first of [1, 4, 8, 20]) {
        const page = await firstPage(asked, first, fields);
        expect(page.id, `${shape} ${first}`).toBe(survivor);
        expect(page.events.nodes.map((e) => e.id), `${shape} ${first}`).toEqual(rows.slice(0, first).map((e) => e.id));
        expect(page.events.nodes.map((e) => e.name)).toEqual(rows.slice(0, first).map((e) => e.name));
        if (shape === 'full') expect(page.events.nodes.map((e) => e.context)).toEqual(rows.slice(0, first).map((e) => e.context));
        expect(page.events.pageInfo.hasNextPage, `${shape} ${first}`).toBe(first < rows.length);
        if (first < rows.length) {
          // The end cursor continues the page through the cursor path (not the bundle), from the next event on.
          const next = await env.graphql(`query($id: ID!, $after: String) { profile(id: $id) { events(first: 2, after: $after) { nodes { id } } } }`, { id: asked, after: page.events.pageInfo.endCursor });
          expect(next.body.errors).toBeUndefined();
          expect(next.body.data.profile.events.nodes.map((e: { id: string }) => e.id)).toEqual(rows.slice(first, first + 2).map((e) => e.id));
        }
      }
    }
  }
});
