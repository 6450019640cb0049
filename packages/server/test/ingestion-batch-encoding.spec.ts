import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// /v1/batch hands PostgreSQL a batch's columns as array parameters it builds itself (quoted text,
// unquoted ids and dates, JSON documents one a line): every awkward value must come back exactly.

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => env?.close());

const BY_USER = `query($v: String!) { profileByIdentity(type: "user_id", value: $v) {
  traits identities { type value }
  events(first: 50) { nodes { type name category messageId userId anonymousId properties traits context timestamp originalTimestamp } } } }`;

async function profileOf(userId: string) {
  const q = await env.graphql(BY_USER, { v: userId });
  expect(q.body.errors).toBeUndefined();
  return q.body.data.profileByIdentity;
}

const USER = 'enc "user" \\ {a,b} NULL';
const AWKWARD = {
  newline: 'a\nb\r\nc', quote: '"', backslash: '\\', escaped: '\\"', brace: '{}', comma: ',', word: 'NULL', empty: '',
  separators: '\u2028\u2029', tab: '\t', emoji: '😀', nested: { list: [1, 'two', null, { q: '"\n' }], no: false },
};

describe('/v1/batch: values that need quoting or escaping are stored exactly', () => {
  it('keeps quotes, backslashes, braces, line breaks, empty strings and the word NULL in ids, names and JSON', async () => {
    const batch = [
      {
        type: 'identify', messageId: 'enc-1 "q"', userId: USER, anonymousId: 'anon "a" {NULL}', originalTimestamp: '0099-01-02T03:04:05.678Z',
        traits: { note: 'line\nbreak "quoted" \\ back', empty: '', plan: 'pro' },
      },
      {
        type: 'track', messageId: 'enc-2', userId: USER, event: 'Clicked "Buy", {now} \\', originalTimestamp: '9999-12-31T23:59:59.999Z',
        properties: AWKWARD, context: { page: { title: 'x\ny' }, note: '' },
      },
      { type: 'page', messageId: 'enc-3', userId: USER, name: '', category: 'NULL', originalTimestamp: '2026-03-04T05:06:07.891Z' },
    ];
    const r = await env.post('/v1/batch', { batch });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.accepted).toBe(3);

    const p = await profileOf(USER);
    expect(p.traits).toEqual({ note: 'line\nbreak "quoted" \\ back', empty: '', plan: 'pro' });
    expect(p.identities).toEqual(expect.arrayContaining([{ type: 'user_id', value: USER }, { type: 'anonymous_id', value: 'anon "a" {NULL}' }]));
    const byId = Object.fromEntries(p.events.nodes.map((e: { messageId: string }) => [e.messageId, e]));
    expect(byId['enc-1 "q"']).toMatchObject({
      type: 'identify', userId: USER, anonymousId: 'anon "a" {NULL}', name: null, properties: {}, context: {},
      traits: { note: 'line\nbreak "quoted" \\ back', empty: '', plan: 'pro' }, originalTimestamp: '0099-01-02T03:04:05.678Z',
    });
    expect(byId['enc-2']).toMatchObject({
      type: 'track', name: 'Clicked "Buy", {now} \\', anonymousId: null, traits: null, properties: AWKWARD,
      context: { page: { title: 'x\ny' }, note: '' }, timestamp: '9999-12-31T23:59:59.999Z',
    });
    expect(byId['enc-3']).toMatchObject({ type: 'page', name: '', category: 'NULL', timestamp: '2026-03-04T05:06:07.891Z' });
  });

  it('stores a column none of whose values needs escaping exactly too: the word NULL, braces, commas and spaces', async () => {
    // Every message id, user id and event name here is free of quotes and backslashes, and none is missing: each
    // column takes the encoder's one-join path, where the quoting alone keeps NULL a word and {a,b} one value.
    const user = 'NULL {u,1}';
    const names = ['NULL', '{a,b}', 'a , b', 'null'];
    const batch = names.map((event, i) => ({ type: 'track', messageId: ['NULL', '{m,1}', 'm 2', 'm,3'][i], userId: user, anonymousId: `{anon} ${i}`, event }));
    const r = await env.post('/v1/batch', { batch });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results.map((x: { messageId: string }) => x.messageId)).toEqual(['NULL', '{m,1}', 'm 2', 'm,3']);
    const p = await profileOf(user);
    expect(p.events.nodes.map((e: { messageId: string; name: string; userId: string }) => [e.messageId, e.name, e.userId]).sort()).toEqual(
      [['NULL', 'NULL', user], ['{m,1}', '{a,b}', user], ['m 2', 'a , b', user], ['m,3', 'null', user]].sort(),
    );
    expect(p.identities).toEqual(expect.arrayContaining([{ type: 'user_id', value: user }, { type: 'anonymous_id', value: '{anon} 3' }]));
  });

  it('leaves a person\'s traits as they were after a batch of tracks, and an identify later changes only what it sends', async () => {
    const user = 'enc-traits';
    expect((await env.post('/v1/batch', { batch: [{ type: 'identify', userId: user, traits: { plan: 'free', name: 'Ada "A"' } }] })).status).toBe(200);
    const tracks = Array.from({ length: 5 }, (_, i) => ({ type: 'track', userId: user, event: `Viewed ${i}`, properties: { i } }));
    expect((await env.post('/v1/batch', { batch: tracks })).status).toBe(200);
    expect((await profileOf(user)).traits).toEqual({ plan: 'free', name: 'Ada "A"' });

    expect((await env.post('/v1/batch', { batch: [{ type: 'track', userId: user, event: 'Upgraded' }, { type: 'identify', userId: user, traits: { plan: 'pro' } }] })).status).toBe(200);
    const p = await profileOf(user);
    expect(p.traits).toEqual({ plan: 'pro', name: 'Ada "A"' });
    expect(p.events.nodes).toHaveLength(8);
  });

  it('links a new person\'s identities in priority order within the limits, warns about the rest, and lands later messages there', async () => {
    const batch = [
      { type: 'identify', userId: 'lim-a', traits: { email: 'Lim@Example.com' }, context: { externalIds: [{ type: 'user_id', id: 'lim-b' }] } },
      { type: 'track', userId: 'lim-a', event: 'After' },
      { type: 'track', anonymousId: 'lim-anon', event: 'Alone' },
    ];
    const r = await env.post('/v1/batch', { batch });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results.map((x: { warnings?: string[] }) => x.warnings ?? [])).toEqual([
      ['user_id "lim-b" was not linked: adding it would give one profile 2 user_id values (limit 1)'], [], [],
    ]);
    const p = await profileOf('lim-a');
    expect(p.identities).toHaveLength(2);
    expect(p.identities).toEqual(expect.arrayContaining([{ type: 'user_id', value: 'lim-a' }, { type: 'email', value: 'lim@example.com' }]));
    expect(p.events.nodes.map((e: { type: string }) => e.type).sort()).toEqual(['identify', 'track']);
    const q = await env.graphql('{ b: profileByIdentity(type: "user_id", value: "lim-b") { id } anon: profileByIdentity(type: "anonymous_id", value: "lim-anon") { events { nodes { name } } } }');
    expect(q.body.data.b).toBeNull();
    expect(q.body.data.anon.events.nodes).toEqual([{ name: 'Alone' }]);
  });
});
