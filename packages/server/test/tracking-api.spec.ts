import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

const BY_USER = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) {
  id traits identities { type value } events(first: 50) { nodes { type name messageId timestamp originalTimestamp receivedAt properties } } } }`;
async function profileOf(userId: string) {
  const q = await env.graphql(BY_USER, { v: userId });
  expect(q.body.errors).toBeUndefined();
  return q.body.data.profileByIdentity;
}

describe('Segment HTTP tracking API', () => {
  it('stores an identify and serves it over GraphQL, with email normalised as an identity', async () => {
    const r = await env.post('/v1/identify', { userId: 'u-1', traits: { email: 'Ada@Example.com', name: 'Ada' }, messageId: 'id-1' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, messageId: 'id-1', duplicate: false });
    const p = await profileOf('u-1');
    expect(p.traits).toEqual({ email: 'Ada@Example.com', name: 'Ada' });
    expect(p.identities).toEqual(expect.arrayContaining([{ type: 'user_id', value: 'u-1' }, { type: 'email', value: 'ada@example.com' }]));
    expect(p.events.nodes).toHaveLength(1);
  });

  it('accepts every message type on its long and short path', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [
      ['/v1/track', { userId: 'u-2', event: 'Signed Up' }],
      ['/v1/t', { userId: 'u-2', event: 'Short Track' }],
      ['/v1/page', { userId: 'u-2', name: 'Home', category: 'Marketing' }],
      ['/v1/p', { userId: 'u-2', name: 'Pricing' }],
      ['/v1/screen', { userId: 'u-2', name: 'Settings' }],
      ['/v1/s', { userId: 'u-2', name: 'Feed' }],
      ['/v1/group', { userId: 'u-2', groupId: 'acme', traits: { plan: 'pro' } }],
      ['/v1/g', { userId: 'u-2', groupId: 'acme2' }],
      ['/v1/i', { userId: 'u-2', traits: { plan: 'free' } }],
      ['/v1/alias', { userId: 'u-2', previousId: 'anon-for-u2' }],
      ['/v1/a', { userId: 'u-2', previousId: 'anon2-for-u2' }],
      ['/v1/b', { batch: [{ type: 'track', userId: 'u-2', event: 'From Short Batch' }] }],
    ];
    for (const [path, body] of calls) {
      const r = await env.post(path, body);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
    }
    const p = await profileOf('u-2');
    const types = p.events.nodes.map((e: { type: string }) => e.type).sort();
    expect(types).toEqual(['alias', 'alias', 'group', 'group', 'identify', 'page', 'page', 'screen', 'screen', 'track', 'track', 'track']);
    expect(p.traits).toEqual({ plan: 'free' }); // group traits belong to the group, not the person
    const stored = await env.graphql(`{ profileByIdentity(type: "user_id", value: "u-2") { g: events(type: "group") { nodes { groupId traits } } p: events(type: "page") { nodes { name category } } } }`);
    expect(stored.body.data.profileByIdentity.g.nodes.map((n: { groupId: string }) => n.groupId).sort()).toEqual(['acme', 'acme2']);
    expect(stored.body.data.profileByIdentity.p.nodes).toEqual(expect.arrayContaining([{ name: 'Home', category: 'Marketing' }]));
  });

  it('takes the write key as Basic auth, as Bearer, or as writeKey in the body', async () => {
    expect((await env.post('/v1/track', { userId: 'u-3', event: 'Basic' }, { basic: true })).status).toBe(200);
    expect((await env.post('/v1/track', { userId: 'u-3', event: 'Bearer' })).status).toBe(200);
    const body = await env.post('/v1/track', { userId: 'u-3', event: 'Body', writeKey: env.keys.ingest }, { key: null });
    expect(body.status).toBe(200);
    const p = await profileOf('u-3');
    expect(p.events.nodes.map((e: { name: string }) => e.name).sort()).toEqual(['Basic', 'Bearer', 'Body']);
  });

  it('parses text/plain bodies as JSON (browser beacons)', async () => {
    const r = await env.post('/v1/track', JSON.stringify({ anonymousId: 'beacon-1', event: 'Beacon' }), { raw: true, contentType: 'text/plain' });
    expect(r.status).toBe(200);
  });

  it('answers CORS preflights for any origin', async () => {
    const res = await fetch(`${env.url}/v1/batch`, {
      method: 'OPTIONS',
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('stores a message sent twice once (messageId dedupe), and says so', async () => {
    const msg = { userId: 'u-4', event: 'Paid', messageId: 'dup-1' };
    const first = await env.post('/v1/track', msg);
    const second = await env.post('/v1/track', { ...msg, properties: { changed: true } });
    expect(first.body.duplicate).toBe(false);
    expect(second.status).toBe(200);
    expect(second.body.duplicate).toBe(true);
    const t = { ...msg, type: 'track' };
    const inBatch = await env.post('/v1/batch', { batch: [t, t, { ...t, messageId: 'dup-2' }] });
    expect(inBatch.body).toMatchObject({ accepted: 1, duplicates: 2 });
    const p = await profileOf('u-4');
    expect(p.events.nodes.map((e: { messageId: string }) => e.messageId).sort()).toEqual(['dup-1', 'dup-2']);
    expect(p.events.nodes.find((e: { messageId: string }) => e.messageId === 'dup-1').properties).toEqual({});
  });

  it('sets receivedAt itself and corrects the client clock skew from sentAt', async () => {
    // The client clock is 1 hour fast: it says the event happened at 12:00:00 and was sent at 12:00:10.
    const before = Date.now();
    const r = await env.post('/v1/batch', {
      sentAt: '2030-01-01T12:00:10.000Z',
      batch: [{ type: 'track', userId: 'u-5', event: 'Skewed', timestamp: '2030-01-01T12:00:00.000Z', receivedAt: '1999-01-01T00:00:00Z' }],
    });
    const after = Date.now();
    expect(r.status).toBe(200);
    const e = (await profileOf('u-5')).events.nodes[0];
    const received = Date.parse(e.receivedAt);
    expect(received).toBeGreaterThanOrEqual(before - 5);
    expect(received).toBeLessThanOrEqual(after + 5);
    expect(received - Date.parse(e.timestamp)).toBe(10_000); // happened 10 s before the server received it
    expect(e.originalTimestamp).toBe('2030-01-01T12:00:00.000Z');
  });

  it('delivers through the official Segment Node SDK, unchanged', async () => {
    const analytics = new Analytics({ writeKey: env.keys.ingest, host: env.url, flushAt: 3, maxRetries: 0 });
    const failures: unknown[] = [];
    analytics.on('error', (e) => failures.push(e));
    analytics.identify({ userId: 'sdk-user', traits: { email: 'sdk@example.com', plan: 'pro' } });
    analytics.track({ userId: 'sdk-user', event: 'Order Completed', properties: { revenue: 42 } });
    analytics.page({ anonymousId: 'sdk-anon', name: 'Landing' });
    analytics.alias({ previousId: 'sdk-anon', userId: 'sdk-user' });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(failures).toEqual([]);
    const p = await profileOf('sdk-user');
    expect(p.traits).toMatchObject({ email: 'sdk@example.com', plan: 'pro' });
    expect(p.identities).toEqual(expect.arrayContaining([{ type: 'anonymous_id', value: 'sdk-anon' }]));
    expect(p.events.nodes.map((e: { type: string }) => e.type).sort()).toEqual(['alias', 'identify', 'page', 'track']);
    expect(p.events.nodes.find((e: { name: string }) => e.name === 'Order Completed').properties).toEqual({ revenue: 42 });
  });
});

describe('bad input', () => {
  it('malformed JSON: 400 naming the body', async () => {
    const r = await env.post('/v1/track', '{"userId": "x", ', { raw: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'BAD_REQUEST', field: 'body', rule: 'json' });
  });

  it('unknown message type in a batch: 400 naming batch[i].type', async () => {
    const r = await env.post('/v1/batch', { batch: [{ type: 'purchase', userId: 'x' }] });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([expect.objectContaining({ index: 0, field: 'batch[0].type', rule: 'enum' })]);
    expect(r.body.errors[0].message).toContain('"purchase" is not one of identify, track');
  });

  it('no userId and no anonymousId: 400', async () => {
    const r = await env.post('/v1/track', { event: 'Nobody' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'userId', rule: 'required' });
  });

  it('a non-email in traits.email: 400 naming traits.email', async () => {
    const r = await env.post('/v1/identify', { userId: 'u-bad', traits: { email: 'not-an-email' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'traits.email', rule: 'email' });
    expect(r.body.error.message).toBe('traits.email: "not-an-email" is not an email address');
    expect((await env.graphql(BY_USER, { v: 'u-bad' })).body.data.profileByIdentity).toBeNull();
  });

  it('a message over 32 KB: 413; a batch body over 500 KB: 413', async () => {
    const big = { type: 'track', userId: 'u-big', event: 'Big', properties: { blob: 'x'.repeat(33 * 1024) } };
    const single = await env.post('/v1/track', big);
    expect(single.status).toBe(413);
    expect(single.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', rule: 'maxBytes' });
    const inBatch = await env.post('/v1/batch', { batch: [big, { type: 'track', userId: 'u-big', event: 'Small' }] });
    expect(inBatch.status).toBe(207);
    expect(inBatch.body.errors).toEqual([expect.objectContaining({ index: 0, field: 'batch[0]', rule: 'maxBytes', code: 'PAYLOAD_TOO_LARGE' })]);
    const huge = { batch: Array.from({ length: 20 }, (_, i) => ({ type: 'track', userId: 'u-big', event: `E${i}`, properties: { blob: 'y'.repeat(30 * 1024) } })) };
    const whole = await env.post('/v1/batch', huge);
    expect(whole.status).toBe(413);
    expect(whole.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body' });
  });

  it('a batch keeps every valid message and reports every invalid one by index (207)', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'u-mix', event: 'Good 1' },
        { type: 'track', userId: 'u-mix' },
        { type: 'identify', userId: 'u-mix', traits: { email: 'nope' } },
        'not an object',
        { type: 'track', userId: 'u-mix', event: 'Good 2', timestamp: 'yesterday-ish' },
        { type: 'track', userId: 'u-mix', event: 'Good 3' },
      ],
    });
    expect(r.status).toBe(207);
    expect(r.body.accepted).toBe(2);
    expect(r.body.errors.map((e: { index: number; field: string; rule: string }) => [e.index, e.field, e.rule])).toEqual([
      [1, 'batch[1].event', 'required'],
      [2, 'batch[2].traits.email', 'email'],
      [3, 'batch[3]', 'object'],
      [4, 'batch[4].timestamp', 'datetime'],
    ]);
    const p = await profileOf('u-mix');
    expect(p.events.nodes.map((e: { name: string }) => e.name).sort()).toEqual(['Good 1', 'Good 3']);
    expect(p.traits).toEqual({}); // the rejected identify wrote nothing
  });

  it('an unsupported content type: 415', async () => {
    const r = await env.post('/v1/track', '<xml/>', { raw: true, contentType: 'application/xml' });
    expect(r.status).toBe(415);
    expect(r.body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-type' });
  });

  it('alias with a blocked userId: 400', async () => {
    const r = await env.post('/v1/alias', { userId: 'anonymous', previousId: 'some-anon' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'userId', rule: 'blocked' });
  });

  it('no key: 401; unknown key: 401; a key without events:write: 403', async () => {
    const none = await env.post('/v1/track', { userId: 'u', event: 'E' }, { key: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    expect((await env.post('/v1/track', { userId: 'u', event: 'E' }, { key: 'rk_forged' })).status).toBe(401);
    const app = await env.post('/v1/track', { userId: 'u', event: 'E' }, { key: env.keys.app });
    expect(app.status).toBe(403);
    expect(app.body.error.message).toContain('events:write');
  });
});
