import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Keys named like members of Object.prototype are keys like any other, as Segment takes them:
// a trait or property called `hasOwnProperty`, `valueOf`, `constructor`, `toString` or `__proto__`
// is stored as sent and read back as sent, and never costs the other messages of its batch.
// Bodies are sent as JSON text: `__proto__` must reach the server as a key, whatever this file's
// own objects would make of it.

const KEYS = ['hasOwnProperty', 'valueOf', 'constructor', 'toString', '__proto__'] as const;
// `toString` keeps its first value (first_seen); every other key its most recent one.
const SURVIVORSHIP = { default: 'most_recent' as const, traits: { toString: 'first_seen' as const } };

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ identity: { survivorship: SURVIVORSHIP } });
});
afterAll(async () => env?.close());

/** Posts a batch given as JSON text. */
async function batch(json: string) {
  return env.post('/v1/batch', `{"batch":${json}}`, { raw: true });
}

/** Own entries, sorted: `__proto__` included, prototypes ignored. */
const entries = (o: unknown) => Object.entries(o as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
/** What `JSON.parse` of this text makes of it (own keys, `__proto__` as a key), as sorted entries. */
const parsed = (json: string) => entries(JSON.parse(json));

const PROFILE = `query($t: String!, $v: String!) { profileByIdentity(type: $t, value: $v) { id traits events(first: 20) { nodes { name properties context traits } } } }`;
async function profileOf(value: string, type = 'user_id') {
  const r = await env.graphql(PROFILE, { t: type, v: value });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity as { id: string; traits: Record<string, unknown>; events: { nodes: Array<{ name: string | null; properties: unknown; context: unknown; traits: unknown }> } };
}

/** A trait object holding every key, each with a value naming `tag` (`__proto__` an object, the case that would replace a prototype). */
function traitsJson(tag: string): string {
  return `{${KEYS.map((k) => `"${k}":${k === '__proto__' ? `{"polluted":"${tag}"}` : `"${tag}-${k}"`}`).join(',')}}`;
}

const untouched = () => {
  for (const name of ['polluted', 'v']) expect(Object.prototype.hasOwnProperty.call(Object.prototype, name), name).toBe(false);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
};

describe('identify traits named like Object.prototype members (HTTP /v1/batch)', () => {
  it.each(KEYS)('stores a trait %s as sent, and the other messages of its batch', async (k) => {
    const user = `proto-user-${k}`;
    const value = k === '__proto__' ? '{"v":"x"}' : '"x"';
    const r = await batch(`[
      {"type":"identify","userId":"${user}","traits":{"plan":"a"},"timestamp":"2024-01-01T00:00:00Z"},
      {"type":"identify","userId":"${user}","traits":{"${k}":${value}},"timestamp":"2024-01-02T00:00:00Z"},
      {"type":"track","userId":"bystander-${k}","event":"E"}]`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ success: true, accepted: 3, errors: [] });

    const p = await profileOf(user);
    expect(entries(p.traits)).toEqual(parsed(`{"plan":"a","${k}":${value}}`));
    const one = await env.graphql(`query($id: ID!, $k: String!) { profile(id: $id) { trait(key: $k) } }`, { id: p.id, k });
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data.profile.trait).toEqual(JSON.parse(value));
    expect((await profileOf(`bystander-${k}`)).events.nodes.map((e) => e.name)).toEqual(['E']);
    untouched();
  });

  it('stores every such key of identify traits and of context.traits, updated by a later identify', async () => {
    const r = await batch(`[
      {"type":"identify","userId":"proto-all","traits":${traitsJson('one')},"timestamp":"2024-01-01T00:00:00Z"},
      {"type":"identify","userId":"proto-all","context":{"traits":${traitsJson('two')}},"traits":{"plan":"b"},"timestamp":"2024-01-02T00:00:00Z"},
      {"type":"identify","anonymousId":"proto-ctx","context":{"traits":${traitsJson('ctx')}}}]`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.accepted).toBe(3);

    // Most recent wins, except toString (first_seen).
    const all = await profileOf('proto-all');
    const expected = JSON.parse(traitsJson('two')) as Record<string, unknown>;
    Object.defineProperty(expected, 'toString', { value: 'one-toString', enumerable: true });
    Object.defineProperty(expected, 'plan', { value: 'b', enumerable: true });
    expect(entries(all.traits)).toEqual(entries(expected));

    const ctx = await profileOf('proto-ctx', 'anonymous_id');
    expect(entries(ctx.traits)).toEqual(parsed(traitsJson('ctx')));
    // The events keep them too, as sent.
    expect(entries(all.events.nodes.find((e) => e.traits && Object.hasOwn(e.traits, 'hasOwnProperty'))!.traits)).toEqual(parsed(traitsJson('one')));
    untouched();
  });
});

describe('single-message endpoints', () => {
  it('take such keys from application/json and text/plain (the browsers\' beacon) alike', async () => {
    for (const contentType of ['application/json', 'text/plain']) {
      const user = `proto-single-${contentType}`;
      const body = `{"userId":"${user}","traits":${traitsJson('single')}}`;
      const r = await env.post('/v1/identify', body, { raw: true, contentType });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(entries((await profileOf(user)).traits)).toEqual(parsed(traitsJson('single')));
    }
    untouched();
  });
});

describe('event property keys named like Object.prototype members', () => {
  it('stores properties and context keys as sent; consent categories with such names are categories', async () => {
    const props = `{${KEYS.map((k, i) => `"${k}":${k === '__proto__' ? '{"polluted":true}' : i}`).join(',')}}`;
    const context = `{"__proto__":{"polluted":"ctx"},"constructor":{"prototype":{"polluted":"ctx"}},"consent":{"categoryPreferences":{"constructor":true,"toString":false}}}`;
    const r = await batch(`[
      {"type":"track","userId":"proto-props","event":"Props","messageId":"proto-props-1","properties":${props},"context":${context}},
      {"type":"track","userId":"proto-props","event":"Plain","messageId":"proto-props-2"}]`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ success: true, accepted: 2 });
    // No purpose is called constructor or to_string: each decision is a warning, not an error.
    expect(r.body.results[0].warnings.join('\n')).toMatch(/constructor/);

    const p = await profileOf('proto-props');
    const e = p.events.nodes.find((n) => n.name === 'Props')!;
    expect(entries(e.properties)).toEqual(parsed(props));
    expect(entries(e.context)).toEqual(parsed(context));
    untouched();
  });

  it('still reports a bad message by index and stores the others', async () => {
    const r = await batch(`[
      {"type":"identify","userId":"proto-mixed","traits":{"__proto__":{"v":1},"valueOf":"v"}},
      {"type":"track","userId":"proto-mixed","properties":{"constructor":"c"}},
      {"type":"track","userId":"proto-mixed","event":"Ok","properties":{"hasOwnProperty":"h"}}]`);
    expect(r.status).toBe(207);
    expect(r.body.errors).toEqual([expect.objectContaining({ index: 1, field: 'batch[1].event', rule: 'required' })]);
    expect(r.body.results.map((x: { index: number }) => x.index)).toEqual([0, 2]);
    const p = await profileOf('proto-mixed');
    expect(entries(p.traits)).toEqual(parsed('{"__proto__":{"v":1},"valueOf":"v"}'));
  });
});

describe('merges of profiles that both carry such keys (survivorship)', () => {
  it('merges in ingestion, by hand, and undoes a merge, keeping the values the rules pick', async () => {
    // Three people, created in this order, each with every key; a's values are the oldest, c's the newest.
    for (const [id, tag, day] of [['"userId":"merge-a"', 'a', '01'], ['"anonymousId":"merge-b"', 'b', '02'], ['"anonymousId":"merge-c"', 'c', '03']]) {
      const r = await batch(`[{"type":"identify",${id},"traits":${traitsJson(tag)},"timestamp":"2024-01-${day}T00:00:00Z"}]`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
    }
    const [a, c] = [await profileOf('merge-a'), await profileOf('merge-c', 'anonymous_id')];

    // Ingestion: an identify naming a's user id and b's anonymous id merges b into a.
    const link = await batch(`[{"type":"identify","userId":"merge-a","anonymousId":"merge-b","timestamp":"2024-01-01T12:00:00Z"}]`);
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    const ab = await profileOf('merge-a');
    expect(ab.id).toBe(a.id);
    const expectedAb = JSON.parse(traitsJson('b')) as Record<string, unknown>;
    Object.defineProperty(expectedAb, 'toString', { value: 'a-toString', enumerable: true });
    expect(entries(ab.traits)).toEqual(entries(expectedAb));

    // By hand: c into a (the older).
    const m = await env.graphql(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "proto keys") { id traits } }`, { ids: [a.id, c.id] });
    expect(m.body.errors).toBeUndefined();
    const expectedAbc = JSON.parse(traitsJson('c')) as Record<string, unknown>;
    Object.defineProperty(expectedAbc, 'toString', { value: 'a-toString', enumerable: true });
    expect(m.body.data.mergeProfiles.id).toBe(a.id);
    expect(entries(m.body.data.mergeProfiles.traits)).toEqual(entries(expectedAbc));
    expect(entries((await profileOf('merge-c', 'anonymous_id')).traits)).toEqual(entries(expectedAbc));

    // Undone: c gets back its own traits (replayed from its events), a keeps a's and b's.
    const u = await env.graphql(`mutation($id: ID!) { unmergeProfile(id: $id) { id traits } }`, { id: c.id });
    expect(u.body.errors).toBeUndefined();
    expect(entries(u.body.data.unmergeProfile.traits)).toEqual(parsed(traitsJson('c')));
    expect(entries((await profileOf('merge-a')).traits)).toEqual(entries(expectedAb));
    untouched();
  });
});
