import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// The audit log's `read` entries are written for concurrent requests in one call (ReadAuditWriter):
// each entry keeps its own field names, whatever characters they hold, and its own request.
const ODD = 'a"b\\c,d{e} f';
let env: TestEnvironment;

beforeAll(async () => {
  env = await createTestEnvironment({ consent: { piiTraits: ['email', ODD, 'NULL'], policies: [] } });
});
afterAll(async () => env?.close());

const AUDIT = `query($id: ID!) { auditLog(profileId: $id, first: 50) { action actor fields requestId } }`;

describe('audit of personal data reads', () => {
  it('field names with quotes, backslashes, commas, braces, spaces and the word NULL are logged as read', async () => {
    const traits = { email: 'odd@example.com', [ODD]: 'x', NULL: 'y', plan: 'pro' };
    const id = (await env.post('/v1/identify', { userId: 'audit-odd', traits }, { key: env.keys.admin })).body.profileId;
    const read = await env.graphql(`query($id: ID!) { profile(id: $id) { traits } }`, { id });
    expect(read.body.data.profile.traits).toEqual(traits);
    const log = (await env.graphql(AUDIT, { id })).body.data.auditLog;
    expect(log).toHaveLength(1);
    expect(log[0].action).toBe('read');
    expect(log[0].fields).toEqual([`Profile.traits.${ODD}`, 'Profile.traits.NULL', 'Profile.traits.email'].sort());
  });

  it('concurrent reads of several people are each audited once, under their own request', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await env.post('/v1/identify', { userId: `audit-many-${i}`, traits: { email: `m${i}@example.com` } }, { key: env.keys.admin })).body.profileId);
    }
    const reads = await Promise.all(
      Array.from({ length: 30 }, (_, n) => env.graphql(`query($id: ID!) { profile(id: $id) { traits } }`, { id: ids[n % 5] })),
    );
    for (const r of reads) expect(r.body.data.profile.traits.email).toMatch(/@example\.com$/);
    const requestIds = new Set<string>();
    for (const id of ids) {
      const log = (await env.graphql(AUDIT, { id })).body.data.auditLog;
      expect(log).toHaveLength(6);
      for (const e of log) {
        expect(e).toMatchObject({ action: 'read', fields: ['Profile.traits.email'] });
        requestIds.add(e.requestId);
      }
    }
    expect(requestIds.size).toBe(30);
  });

  it('a key name and request ids with quotes, backslashes, commas, braces, spaces and the word NULL are logged as given', async () => {
    const name = `reader ${ODD}`;
    const key = (await env.graphql(`mutation($n: String!) { createApiKey(input: { name: $n, roles: ["admin"] }) { key } }`, { n: name })).body.data.createApiKey.key;
    const id = (await env.post('/v1/identify', { userId: 'audit-odd-actor', traits: { email: 'actor@example.com' } }, { key: env.keys.admin })).body.profileId;
    const requests = [`req ${ODD}`, 'NULL', ''];
    for (const requestId of requests) {
      const read = await env.graphql(`query($id: ID!) { profile(id: $id) { traits } }`, { id }, { key, headers: { 'x-request-id': requestId } });
      expect(read.body.data.profile.traits.email).toBe('actor@example.com');
    }
    const log = (await env.graphql(AUDIT, { id })).body.data.auditLog;
    expect(log).toHaveLength(3);
    for (const e of log) expect(e).toMatchObject({ action: 'read', actor: name, fields: ['Profile.traits.email'] });
    // An empty x-request-id is not an id: the server gives the request its own.
    expect(log.map((e: { requestId: string }) => e.requestId).filter((r: string) => r !== requests[0] && r !== 'NULL')).toHaveLength(1);
    expect(log.map((e: { requestId: string }) => e.requestId)).toEqual(expect.arrayContaining([requests[0], 'NULL']));
  });
});
