import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { EventService, type EventPageArgs } from '../src/service/event.service';
import { ProfileBundleReader } from '../src/service/profile-bundle.reader';

// Issue 14, point 3: the events page and profiles(filter: { seenSince }) cost what they return,
// whatever the profile's size and the table's statistics. Checked on real PostgreSQL through the
// public GraphQL API (the answers) and through the plans PostgreSQL ran (auto_explain, nested
// statements included): never a sort of a profile's events, never a bitmap scan of them.

let env: TestEnvironment;
let heavy: string;
let light: string;

/** Ingests events for one user; returns the profile id. */
async function user(userId: string, events: Array<Record<string, unknown>>, idField = 'userId'): Promise<string> {
  const r = await env.post('/v1/batch', { batch: events.map((e) => ({ [idField]: userId, ...e })) }, { key: env.keys.admin });
  expect(r.status).toBe(200);
  return r.body.results[0].profileId;
}

/** Adds `count` events to a profile directly (the bulk of a large table), cycling types and names. */
async function bulk(profileSql: string, count: number, tag: string): Promise<void> {
  await env.sql(
    `INSERT INTO rapport_event (message_id, profile_id, origin_profile_id, type, name, properties, timestamp, received_at)
     SELECT $2 || '-' || n, pid, pid, t.type, t.name, '{}', '2025-01-01'::timestamptz + n * interval '1 minute', now()
       FROM (SELECT n, ${profileSql} AS pid FROM generate_series(1, $1::int) n) s
       CROSS JOIN LATERAL (SELECT (ARRAY['track', 'track', 'page', 'identify'])[1 + n % 4] AS type,
                                  (ARRAY['Product Viewed', 'Order Completed', 'Home', NULL])[1 + n % 4] AS name) t`,
    [count, tag],
  );
}

const PAGE = `query($id: ID!, $first: Int, $after: String, $type: String, $name: String) {
  profile(id: $id) { events(first: $first, after: $after, type: $type, name: $name) { nodes { type name timestamp } pageInfo { hasNextPage endCursor } } } }`;

/** The page as GraphQL returns it. */
async function page(id: string, args: { first: number; after?: string; type?: string; name?: string }) {
  const r = await env.graphql(PAGE, { id, ...args });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profile.events as { nodes: Array<{ type: string; name: string | null; timestamp: string }>; pageInfo: { hasNextPage: boolean; endCursor: string } };
}

/** The same page computed by the obvious query. */
async function expected(id: string, args: { first: number; type?: string; name?: string; before?: string }) {
  const rows = await env.sql(
    `SELECT type, name, timestamp FROM rapport_event WHERE profile_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR name = $3)
        AND ($4::timestamptz IS NULL OR timestamp < $4) ORDER BY timestamp DESC, id DESC LIMIT $5`,
    [id, args.type ?? null, args.name ?? null, args.before ?? null, args.first],
  );
  return rows.map((r) => ({ type: r.type, name: r.name, timestamp: (r.timestamp as Date).toISOString() }));
}

/** Every shape of page, for one profile: the right events, in order, with a working cursor. */
async function expectPagesRight(id: string): Promise<void> {
  for (const filter of [{}, { type: 'track' }, { type: 'track', name: 'Order Completed' }, { name: 'Home' }, { type: 'identify' }]) {
    const one = await page(id, { first: 5, ...filter });
    expect(one.nodes).toEqual(await expected(id, { first: 5, ...filter }));
    if (!one.pageInfo.hasNextPage) continue;
    const two = await page(id, { first: 5, after: one.pageInfo.endCursor, ...filter });
    // Timestamps are distinct per profile here, so "before the last timestamp" is the next page.
    expect(two.nodes).toEqual(await expected(id, { first: 5, ...filter, before: one.nodes.at(-1)!.timestamp }));
  }
}

/**
 * The plans of every statement (nested ones included) one `pagesOf` call ran, for each shape,
 * with and without a cursor, and of the profile bundle's first page, as auto_explain reports them.
 */
async function pagePlans(profileIds: string[]): Promise<string[]> {
  const client = new Client({ connectionString: env.database.url });
  await client.connect();
  const plans: string[] = [];
  client.on('notice', (n) => plans.push(n.message ?? ''));
  try {
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice; SET client_min_messages = notice`);
    const events = new EventService({ query: async (text, params) => (await client.query(text, params)).rows });
    const shapes: Array<Partial<EventPageArgs>> = [{}, { type: 'track' }, { type: 'track', name: 'Order Completed' }, { name: 'Home' }];
    for (const shape of shapes) {
      const [first] = await events.pagesOf(profileIds.map((profileId) => ({ profileId, args: { first: 20, ...shape } })));
      await events.pagesOf(profileIds.map((profileId) => ({ profileId, args: { first: 20, ...shape, after: first.cursors[3] } })));
    }
    // The first page as `profile(id) { events(first: n) }` reads it: inside the profile's own
    // statement, a prepared one (as the pool runs it), with the plan made for its values and with
    // the generic plan PostgreSQL may keep for it after five runs.
    const names = new Map<string, string>();
    const bundles = new ProfileBundleReader({
      query: async (text, values, options) => {
        if (options?.prepare && !names.has(text)) names.set(text, `bundle_${names.size}`);
        return (await client.query(options?.prepare ? { name: names.get(text), text, values } : { text, values })).rows;
      },
    });
    for (const mode of ['force_custom_plan', 'force_generic_plan']) {
      await client.query(`SET plan_cache_mode = ${mode}`);
      for (const first of [1, 20, 200]) {
        // Every field (read through the page function), and the fields most pages select (through `rapport_event_newest`).
        await bundles.read(profileIds, { identities: true, events: { first, fields: null } });
        await bundles.read(profileIds, { identities: true, events: { first, fields: ['type', 'name', 'timestamp', 'properties'] } });
      }
    }
  } finally {
    await client.end();
  }
  // The bundle reads its page through a function: the plans judged are those of the function's own statement, which
  // auto_explain logs as nested (the bundle's plan shows only a Function Scan).
  expect(plans.some((p) => p.includes('rapport_event_newest(p.id'))).toBe(true);
  expect(plans.some((p) => p.includes('WHERE e.profile_id = pid ORDER BY') && p.includes(' on rapport_event '))).toBe(true);
  return plans.filter((p) => p.includes(' on rapport_event '));
}

function expectIndexOrderedPlans(plans: string[]): void {
  expect(plans.length).toBeGreaterThanOrEqual(20);
  for (const plan of plans) {
    expect(plan).not.toMatch(/Bitmap|Seq Scan/);
    expect(plan).toMatch(/Index Scan/);
    // A sort only of pages already cut to size (the name-only shape: one page per named type).
    const count = (re: RegExp) => plan.match(re)?.length ?? 0;
    if (plan.includes('Sort')) expect(count(/Limit/g)).toBeGreaterThan(count(/Index Scan/g));
  }
}

beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

describe('events pages whatever the statistics', () => {
  it('a profile with 20,000 events among 4,000 profiles of one or two events, after ANALYZE', async () => {
    heavy = await user('fr-heavy', [{ type: 'track', event: 'Signed Up', timestamp: '2024-01-01T00:00:00Z' }]);
    light = await user('fr-light', [
      { type: 'track', event: 'Order Completed', timestamp: '2024-02-01T00:00:00Z' },
      { type: 'page', name: 'Home', timestamp: '2024-02-02T00:00:00Z' },
    ]);
    await bulk(`'${heavy}'::uuid`, 20_000, 'heavy');
    await bulk(`md5('fr-few-' || (n % 4000))::uuid`, 6_000, 'few');
    await env.sql('ANALYZE rapport_event');
    await expectPagesRight(heavy);
    await expectPagesRight(light);
    expectIndexOrderedPlans(await pagePlans([heavy, light]));
  });

  it('the reverse: a profile of two events among 100 profiles of 300 events, after ANALYZE', async () => {
    await env.sql(`DELETE FROM rapport_event WHERE message_id LIKE 'few-%'`);
    await bulk(`md5('fr-many-' || (n % 100))::uuid`, 30_000, 'many');
    await env.sql('ANALYZE rapport_event');
    await expectPagesRight(light);
    await expectPagesRight(heavy);
    expectIndexOrderedPlans(await pagePlans([light, heavy]));
  });
});

describe('profiles(filter: { seenSince })', () => {
  const SEEN = `query($since: DateTimeISO!) { profiles(first: 500, filter: { seenSince: $since }) { nodes { id lastSeenAt } } }`;
  const seen = async (since: string) => {
    const r = await env.graphql(SEEN, { since });
    expect(r.body.errors).toBeUndefined();
    return (r.body.data.profiles.nodes as Array<{ id: string }>).map((n) => n.id).sort();
  };

  it('follows new events, merges, unmerges and erasure', async () => {
    const a = await user('fr-a', [{ type: 'track', event: 'Old', timestamp: '2023-01-01T00:00:00Z' }], 'anonymousId');
    const b = await user('fr-b', [{ type: 'track', event: 'Old', timestamp: '2023-01-02T00:00:00Z' }], 'anonymousId');
    expect(await seen('2022-12-31T00:00:00Z')).toEqual(expect.arrayContaining([a, b]));
    expect(await seen('2023-01-01T12:00:00Z')).toEqual(expect.arrayContaining([b]));
    expect(await seen('2023-01-01T12:00:00Z')).not.toContain(a);

    // A new event of a: seen again. An event older than what is known changes nothing.
    await user('fr-a', [{ type: 'track', event: 'Back', timestamp: '2023-06-01T00:00:00Z' }], 'anonymousId');
    await user('fr-b', [{ type: 'track', event: 'Late arrival', timestamp: '2022-06-01T00:00:00Z' }], 'anonymousId');
    expect(await seen('2023-05-01T00:00:00Z')).toEqual(expect.arrayContaining([a]));
    expect(await seen('2023-05-01T00:00:00Z')).not.toContain(b);

    // b merged into a's survivor: the survivor carries both, b is a tombstone (not listed).
    const m = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "test") { id } }`, { ids: [a, b] });
    expect(m.body.errors).toBeUndefined();
    const survivor = m.body.data.mergeProfiles.id as string;
    const mergedAway = survivor === a ? b : a;
    expect(await seen('2023-05-01T00:00:00Z')).toContain(survivor);
    expect(await seen('2022-01-01T00:00:00Z')).not.toContain(mergedAway);

    // Unmerged: each side has its own events, and its own last event, back.
    const u = await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id } }`, { id: mergedAway });
    expect(u.body.errors).toBeUndefined();
    expect(await seen('2023-05-01T00:00:00Z')).toEqual(expect.arrayContaining([a]));
    expect(await seen('2023-05-01T00:00:00Z')).not.toContain(b);
    expect(await seen('2023-01-01T12:00:00Z')).toEqual(expect.arrayContaining([a, b]));

    // Erased: gone from the filter, and so is its activity.
    const d = await env.graphql(`mutation($id: ID!) { deleteProfile(id: $id) { profileIds } }`, { id: a });
    expect(d.body.errors).toBeUndefined();
    expect(await seen('2022-01-01T00:00:00Z')).not.toContain(a);
    const rows = await env.sql('SELECT count(*)::int AS n FROM rapport_profile_activity WHERE profile_id = $1', [a]);
    expect(rows[0].n).toBe(0);
  });

  it('agrees with the events for every profile (the activity table is exact)', async () => {
    const rows = await env.sql(`
      SELECT count(*)::int AS wrong FROM (
        SELECT profile_id, min(timestamp) AS f, max(timestamp) AS l FROM rapport_event GROUP BY profile_id) e
        FULL JOIN rapport_profile_activity a USING (profile_id)
       WHERE a.first_seen_at IS DISTINCT FROM e.f OR a.last_seen_at IS DISTINCT FROM e.l`);
    expect(rows[0].wrong).toBe(0);
  });
});
