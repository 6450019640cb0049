import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// `auditLog` lists the newest entries first (ties by id), from an index, whatever the log's size: the listing of a
// large log never sorts it. The log grows with every guarded read of personal data, so its time index is ascending
// (appends at its right end) and read backwards (migration 1763800000025).
let env: TestEnvironment;

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email'], policies: [] } });
});
afterAll(async () => env?.close());

const LOG = `query($id: ID, $first: Int!) { auditLog(profileId: $id, first: $first) { id at action requestId profileId } }`;

describe('the audit log, newest first', () => {
  it('lists reads newest first, for everyone and for one person', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      ids.push((await env.post('/v1/identify', { userId: `order-${i}`, traits: { email: `o${i}@example.com` } }, { key: env.keys.admin })).body.profileId);
    }
    for (let n = 0; n < 6; n++) {
      const read = await env.graphql(`query($id: ID!) { profile(id: $id) { traits } }`, { id: ids[n % 2] }, { headers: { 'x-request-id': `order-read-${n}` } });
      expect(read.body.data.profile.traits.email).toMatch(/@example\.com$/);
    }
    const all = (await env.graphql(LOG, { id: null, first: 4 })).body.data.auditLog;
    expect(all.map((e: { requestId: string }) => e.requestId)).toEqual(['order-read-5', 'order-read-4', 'order-read-3', 'order-read-2']);
    const one = (await env.graphql(LOG, { id: ids[0], first: 10 })).body.data.auditLog;
    expect(one.map((e: { requestId: string }) => e.requestId)).toEqual(['order-read-4', 'order-read-2', 'order-read-0']);
  });

  it('entries of one commit (one `at`) come newest id first', async () => {
    // One statement, one transaction: three entries with the same `at`, as a shared audit write leaves them.
    const [{ id }] = await env.sql<{ id: string }>('SELECT gen_random_uuid()::text AS id');
    await env.sql(
      `INSERT INTO rapport_audit_log (actor, action, profile_id, fields, request_id)
       SELECT 'tie', 'read', $1, '{Profile.traits.email}', 'tie-' || g FROM generate_series(1, 3) g`,
      [id],
    );
    const log = (await env.graphql(LOG, { id, first: 10 })).body.data.auditLog as Array<{ id: string; at: string; requestId: string }>;
    expect(new Set(log.map((e) => e.at)).size).toBe(1);
    expect(log.map((e) => e.requestId)).toEqual(['tie-3', 'tie-2', 'tie-1']);
  });

  it('reads the newest entries of a large log from an index, without sorting the log', async () => {
    await env.sql(
      `INSERT INTO rapport_audit_log (at, actor, action, profile_id, fields, request_id)
       SELECT now() - make_interval(secs => g), 'bulk', 'read', gen_random_uuid(), '{Profile.traits.email}', 'bulk-' || g
         FROM generate_series(1, 60000) g`,
    );
    await env.sql('ANALYZE rapport_audit_log');
    // The statement `auditLog` runs, with its parameters as the resolver passes them.
    const plan = (await env.sql<{ 'QUERY PLAN': string }>(
      'EXPLAIN SELECT * FROM rapport_audit_log WHERE ($1::uuid IS NULL OR profile_id = $1) ORDER BY at DESC, id DESC LIMIT $2',
      [null, 50],
    )).map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/Index Scan/);
    expect(plan).not.toMatch(/Sort/);
    // And the listing still starts with the newest reads, not with the backdated bulk.
    const first = (await env.graphql(LOG, { id: null, first: 1 })).body.data.auditLog;
    expect(first[0].requestId).not.toMatch(/^bulk-/);
  });
});
