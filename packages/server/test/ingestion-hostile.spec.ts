import { gzipSync, deflateSync } from 'node:zlib';
import { createLogger } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Hostile and odd input on the tracking API (issue 11, defects 2, 3 and part of 10): whatever a
// client sends, nothing valid is lost, nothing invalid is half-written, and the server never
// answers 500 for a value the database cannot store.

const logLines: string[] = [];
let env: TestEnvironment;
beforeAll(async () => {
  const logger = createLogger({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
  env = await createTestEnvironment({ logger });
  // Test-only faults in the database, keyed on message ids no other test uses: one raises a data
  // error (the database refuses a value), one a genuine unique violation whose DETAIL quotes the
  // email the message carries.
  await env.server.core.db.query(`
    CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.message_id LIKE 'poison-data%' THEN
        RAISE EXCEPTION 'value refused' USING ERRCODE = '22023';
      END IF;
      IF NEW.message_id LIKE 'poison-unique%' THEN
        INSERT INTO rapport_identity (type, value, profile_id, origin_profile_id, first_seen_at)
        SELECT 'email', NEW.properties->>'email', NEW.profile_id, NEW.profile_id, now()
          FROM generate_series(1, 2);
      END IF;
      RETURN NEW;
    END $$`);
  await env.server.core.db.query('CREATE TRIGGER test_poison BEFORE INSERT ON rapport_event FOR EACH ROW EXECUTE FUNCTION test_poison()');
});
afterAll(async () => env?.close());

const EVENTS = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) { events(first: 100) { nodes { messageId name properties timestamp } } } }`;
async function eventsOf(userId: string): Promise<Array<{ messageId: string; name: string; properties: Record<string, unknown>; timestamp: string }>> {
  const q = await env.graphql(EVENTS, { v: userId });
  expect(q.body.errors).toBeUndefined();
  return q.body.data.profileByIdentity?.events.nodes ?? [];
}
const ids = (events: Array<{ messageId: string }>) => events.map((e) => e.messageId).sort();

/** `{ "a": { "a": ... } }`, `depth` objects deep, as JSON text (never built as a JS object, so no recursion here). */
function nestedJson(depth: number, leaf = '1'): string {
  return '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}

describe('values PostgreSQL cannot store (defect 2)', () => {
  it('issue repro: a NUL in one message rejects that message by index and stores the other', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'nul-a', event: 'Good', messageId: 'g1' },
        { type: 'track', userId: 'nul-a', event: 'B', properties: { x: 'a\u0000b' } },
      ],
    });
    expect(r.status).toBe(207);
    expect(r.body).toMatchObject({ success: false, accepted: 1, results: [{ index: 0, messageId: 'g1', duplicate: false }] });
    expect(r.body.errors).toEqual([
      expect.objectContaining({ index: 1, code: 'VALIDATION_FAILED', field: 'batch[1].properties.x', rule: 'nul' }),
    ]);
    expect(ids(await eventsOf('nul-a'))).toEqual(['g1']);
  });

  it('rejects a NUL anywhere in a single message, naming the field path (values, keys, ids)', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ userId: 'nul-b', event: 'E', properties: { list: ['ok', { deep: 'x\u0000' }] } }, 'properties.list[1].deep'],
      [{ userId: 'nul-b', event: 'E', context: { ['k\u0000']: 1 } }, 'context'],
      [{ userId: 'nul-\u0000b', event: 'E' }, 'userId'],
      [{ userId: 'nul-b', event: 'E\u0000' }, 'event'],
      [{ userId: 'nul-b', event: 'E', messageId: 'm\u0000' }, 'messageId'],
    ];
    for (const [body, field] of cases) {
      const r = await env.post('/v1/track', body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field, rule: 'nul' });
    }
    expect(await eventsOf('nul-b')).toEqual([]);
  });

  it('rejects nesting deeper than 64 levels, however deep (checked without recursion), and keeps the rest of the batch', async () => {
    const ok = await env.post('/v1/track', `{"userId":"deep-a","event":"Ok","messageId":"deep-ok","properties":${nestedJson(60)}}`, { raw: true });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);

    const single = await env.post('/v1/track', `{"userId":"deep-a","event":"Deep","properties":${nestedJson(100)}}`, { raw: true });
    expect(single.status).toBe(400);
    expect(single.body.error).toMatchObject({ code: 'VALIDATION_FAILED', rule: 'maxDepth' });
    expect(single.body.error.field).toMatch(/^properties(\.a)+$/);

    // 200,000 levels of arrays (400 KB): deeper than PostgreSQL's jsonb accepts and than a recursive walk survives.
    const batch = `{"batch":[{"type":"track","userId":"deep-a","event":"Good","messageId":"deep-g"},` +
      `{"type":"track","userId":"deep-a","event":"Bomb","properties":{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}}]}`;
    const r = await env.post('/v1/batch', batch, { raw: true });
    expect(r.status, JSON.stringify(r.body).slice(0, 500)).toBe(207);
    expect(r.body.errors).toEqual([expect.objectContaining({ index: 1, code: 'VALIDATION_FAILED', rule: 'maxDepth' })]);
    expect(ids(await eventsOf('deep-a'))).toEqual(['deep-g', 'deep-ok']);
  });

  it('rejects timestamps outside years 0001-9999, naming the field, and keeps the rest of the batch', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'ts-a', event: 'Good', messageId: 'ts-g', timestamp: '2024-05-01T10:00:00Z' },
        { type: 'track', userId: 'ts-a', event: 'Old', timestamp: '-271821-04-20T00:00:00Z' },
        { type: 'track', userId: 'ts-a', event: 'Far', originalTimestamp: '+275760-09-13T00:00:00.000Z' },
        { type: 'track', userId: 'ts-a', event: 'Sent', sentAt: '+100000-01-01T00:00:00Z' },
        { type: 'track', userId: 'ts-a', event: 'Epoch', timestamp: 8.64e15 },
        // Each date is fine alone, but the clock-skew correction moves the timestamp 9,000 years ahead.
        { type: 'track', userId: 'ts-a', event: 'Skew', timestamp: '9999-01-01T00:00:00Z', sentAt: '0999-01-01T00:00:00Z' },
      ],
    });
    expect(r.status).toBe(207);
    expect(r.body.results.map((x: { index: number }) => x.index)).toEqual([0]);
    expect(r.body.errors.map((e: { index: number; field: string; rule: string }) => [e.index, e.field, e.rule])).toEqual([
      [1, 'batch[1].timestamp', 'dateRange'],
      [2, 'batch[2].originalTimestamp', 'dateRange'],
      [3, 'batch[3].sentAt', 'dateRange'],
      [4, 'batch[4].timestamp', 'dateRange'],
      [5, 'batch[5].timestamp', 'dateRange'],
    ]);
    const events = await eventsOf('ts-a');
    expect(events.map((e) => [e.messageId, e.timestamp])).toEqual([['ts-g', '2024-05-01T10:00:00.000Z']]);
  });

  it('rejects an event or page name too long for its index (bytes, not characters), keeping the rest of the batch', async () => {
    // 1,024 distinct CJK characters (3,072 bytes, nothing to compress): within the character limit, over the index's.
    const cjk = Array.from({ length: 1024 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'name-a', event: cjk, messageId: 'name-1' },
        { type: 'page', userId: 'name-a', name: 'x'.repeat(3000), messageId: 'name-2' },
        { type: 'track', userId: 'name-a', event: '\u4e2d'.repeat(600), messageId: 'name-3' },
      ],
    });
    expect(r.status).toBe(207);
    expect(r.body.errors.map((e: { index: number; field: string; rule: string }) => [e.index, e.field, e.rule])).toEqual([
      [0, 'batch[0].event', 'maxBytes'],
      [1, 'batch[1].name', 'maxBytes'],
    ]);
    expect(ids(await eventsOf('name-a'))).toEqual(['name-3']);
  });

  it('rejects a number too large for a double (it would be stored as null) instead of changing it', async () => {
    const r = await env.post('/v1/track', '{"userId":"num-a","event":"Big","properties":{"n":1e400}}', { raw: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'properties.n', rule: 'number' });
    const fine = await env.post('/v1/track', '{"userId":"num-a","event":"Fine","messageId":"num-ok","properties":{"n":1.7e308,"i":12345678901234567890}}', { raw: true });
    expect(fine.status).toBe(200);
    expect((await eventsOf('num-a')).map((e) => e.properties)).toEqual([{ n: 1.7e308, i: 12345678901234567000 }]);
  });
});

describe('ill-formed UTF-16 (defect 3)', () => {
  it('rejects a lone surrogate in messageId the same way on every send (no 200 then 500)', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await env.post('/v1/track', { userId: 'ls-user', event: 'E', messageId: 'm-\udc01' });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'messageId', rule: 'unicode' });
    }
  });

  it('keeps "ls-\\udc01" and "ls-\\ufffd" apart: the ill-formed id is rejected, U+FFFD is a character like any other', async () => {
    const bad = await env.post('/v1/identify', { userId: 'ls-\udc01', traits: { plan: 'a' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ field: 'userId', rule: 'unicode' });
    const good = await env.post('/v1/identify', { userId: 'ls-\ufffd', traits: { plan: 'b' }, messageId: 'ls-fffd' });
    expect(good.status).toBe(200);
    expect(ids(await eventsOf('ls-\ufffd'))).toEqual(['ls-fffd']);
    for (const [field, body] of [
      ['anonymousId', { anonymousId: 'a-\ud800' }],
      ['context.traits.email', { userId: 'ls-x', context: { traits: { email: 'a\ud800@example.com' } } }],
      ['context.externalIds[0].id', { userId: 'ls-x', context: { externalIds: [{ id: 'e-\udfff', type: 'crm' }] } }],
    ] as const) {
      const r = await env.post('/v1/identify', body);
      expect(r.status, field).toBe(400);
      expect(r.body.error).toMatchObject({ field, rule: 'unicode' });
    }
  });

  it('replaces a lone surrogate in free text (a truncated emoji) with U+FFFD and says so in warnings', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'ls-text', event: 'Good', messageId: 'ls-t1' },
        { type: 'page', userId: 'ls-text', name: 'Caf\ud83d', messageId: 'ls-t2', properties: { title: 'Hi \ud83d', tags: ['\ude00x'] } },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.results[1].warnings).toEqual([
      expect.stringMatching(/^batch\[1\]: .*3 strings.*U\+FFFD/),
    ]);
    const events = await eventsOf('ls-text');
    expect(ids(events)).toEqual(['ls-t1', 'ls-t2']);
    const page = events.find((e) => e.messageId === 'ls-t2')!;
    expect(page.name).toBe('Caf\ufffd');
    expect(page.properties).toEqual({ title: 'Hi \ufffd', tags: ['\ufffdx'] });
  });

  it('rejects a lone surrogate in an object key', async () => {
    const r = await env.post('/v1/track', { userId: 'ls-key', event: 'E', properties: { ['k\ud800']: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ field: 'properties', rule: 'unicode' });
  });
});

describe('a database error on one message (defect 2)', () => {
  it('rejects by index a message the database refuses, and stores the others', async () => {
    const r = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'db-a', event: 'One', messageId: 'db-1' },
        { type: 'track', userId: 'db-a', event: 'Poison', messageId: 'poison-data-1' },
        { type: 'track', userId: 'db-a', event: 'Two', messageId: 'db-2' },
      ],
    });
    expect(r.status).toBe(207);
    expect(r.body.results.map((x: { index: number }) => x.index)).toEqual([0, 2]);
    expect(r.body.errors).toEqual([expect.objectContaining({ index: 1, code: 'VALIDATION_FAILED', field: 'batch[1]', rule: 'storable' })]);
    expect(JSON.stringify(r.body.errors)).toContain('22023');
    expect(ids(await eventsOf('db-a'))).toEqual(['db-1', 'db-2']);
  });

  it('stores the others when one message fails for another reason; a retry stores nothing twice', async () => {
    const body = {
      batch: [
        { type: 'track', userId: 'db-b', event: 'One', messageId: 'db-b1' },
        { type: 'track', userId: 'db-b', event: 'Poison', messageId: 'poison-unique-1', properties: { email: 'secret.person@example.com' } },
        { type: 'track', userId: 'db-b', event: 'Two', messageId: 'db-b2' },
      ],
    };
    const first = await env.post('/v1/batch', body);
    expect(first.status).toBe(500); // the SDK retries a 5xx
    expect(ids(await eventsOf('db-b'))).toEqual(['db-b1', 'db-b2']);
    const again = await env.post('/v1/batch', body);
    expect(again.status).toBe(500);
    expect(ids(await eventsOf('db-b'))).toEqual(['db-b1', 'db-b2']);
  });

  it('does not quote identity values from PostgreSQL error details in the logs', async () => {
    logLines.length = 0;
    const r = await env.post('/v1/track', { userId: 'db-c', event: 'Poison', messageId: 'poison-unique-2', properties: { email: 'secret.person@example.com' } });
    expect(r.status).toBe(500);
    const logged = logLines.join('\n');
    expect(logged).toContain('23505'); // the error is logged, with its code
    expect(logged).not.toContain('secret.person@example.com');
  });
});

describe('compressed bodies (defect 10)', () => {
  const batch = (id: string) => JSON.stringify({ batch: [{ type: 'track', userId: 'gz-a', event: 'Zipped', messageId: id }] });

  it('accepts gzip and deflate bodies, as Segment SDKs send them', async () => {
    const gz = await env.post('/v1/batch', gzipSync(batch('gz-1')), { raw: true, headers: { 'content-encoding': 'gzip' } });
    expect(gz.status, JSON.stringify(gz.body)).toBe(200);
    const df = await env.post('/v1/batch', deflateSync(batch('gz-2')), { raw: true, headers: { 'content-encoding': 'deflate' } });
    expect(df.status, JSON.stringify(df.body)).toBe(200);
    const one = await env.post('/v1/track', gzipSync(JSON.stringify({ userId: 'gz-a', event: 'One', messageId: 'gz-3' })), {
      raw: true, contentType: 'text/plain', headers: { 'content-encoding': 'gzip' },
    });
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    expect(ids(await eventsOf('gz-a'))).toEqual(['gz-1', 'gz-2', 'gz-3']);
  });

  it('applies the size limit after decompression: a gzip bomb gets 413', async () => {
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)); // 50 MB of spaces, about 50 KB compressed
    expect(bomb.length).toBeLessThan(512_000);
    const r = await env.post('/v1/batch', bomb, { raw: true, headers: { 'content-encoding': 'gzip' } });
    expect(r.status).toBe(413);
    expect(r.body.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'body', rule: 'maxBytes' });
    const single = await env.post('/v1/track', gzipSync(JSON.stringify({ userId: 'gz-b', event: 'E', properties: { s: 'x'.repeat(40_000) } })), {
      raw: true, headers: { 'content-encoding': 'gzip' },
    });
    expect(single.status).toBe(413);
  });

  it('answers 400 for a corrupt gzip body and 415 for an encoding it does not know', async () => {
    const corrupt = gzipSync(batch('gz-bad')).subarray(0, 20);
    const r = await env.post('/v1/batch', corrupt, { raw: true, headers: { 'content-encoding': 'gzip' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'BAD_REQUEST', field: 'content-encoding' });
    const br = await env.post('/v1/batch', batch('gz-br'), { raw: true, headers: { 'content-encoding': 'compress' } });
    expect(br.status).toBe(415);
    expect(br.body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', field: 'content-encoding' });
    expect(ids(await eventsOf('gz-a'))).not.toContain('gz-bad');
  });
});
