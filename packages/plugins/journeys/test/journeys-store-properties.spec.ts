import type { PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { journeysPlugin } from '../src';

// What the store keeps of each delivered event, copied in SQL through the host's event relation (ctx.events.sql):
// the name a step matches, the time, and the short scalar top-level properties of the configured keys.
const plugin = journeysPlugin({ k: 1, properties: ['plan', 'seats', 'trial', 'note', 'emoji', 'tags', 'gone'] });
let kit: PluginTestkit;
let ctx: PluginContext;
beforeAll(async () => {
  kit = await createPluginTestkit([plugin]);
  ctx = kit.core.pluginContext(plugin);
});
afterAll(async () => kit?.close());

async function stored(userId: string): Promise<Array<{ name: string; ts: string; props: unknown }>> {
  const [p] = (await kit.ingest([{ type: 'identify', userId }])).accepted.map((a) => a.profileId);
  return ctx.db.query('SELECT name, ts::text AS ts, props FROM journeys_event WHERE profile_id = $1 ORDER BY ts, event_id', [p]);
}

it('keeps short strings, numbers and booleans of the configured keys, and nothing else', async () => {
  const at = '2026-06-01T12:00:00.123Z';
  await kit.ingest([{
    type: 'track', userId: 'props-1', event: 'Plan Chosen', timestamp: at,
    properties: {
      plan: 'pro', seats: 12.5, trial: false, note: 'n'.repeat(200), emoji: '😀'.repeat(200), tags: ['a'], gone: null,
      other: 'not configured', long: 'x'.repeat(500),
    },
  }]);
  await kit.settle();
  const rows = await stored('props-1');
  // 200 characters are kept (the emoji are 200 characters, 400 UTF-16 units); a list and a null are not scalars.
  expect(rows).toEqual([{ name: 'Plan Chosen', ts: String(Date.parse(at)), props: { plan: 'pro', seats: 12.5, trial: false, note: 'n'.repeat(200), emoji: '😀'.repeat(200) } }]);
});

it('drops a string of 201 characters, and stores no properties when none is kept', async () => {
  await kit.ingest([
    { type: 'track', userId: 'props-2', event: 'Too Long', timestamp: '2026-06-01T12:00:00Z', properties: { plan: 'p'.repeat(201), seats: 3 } },
    { type: 'track', userId: 'props-2', event: 'Nothing Kept', timestamp: '2026-06-01T12:01:00Z', properties: { other: 1, plan: { nested: true } } },
    { type: 'track', userId: 'props-2', event: 'No Properties', timestamp: '2026-06-01T12:02:00Z' },
    // Stored compressed: a few dozen bytes on disk, 5,000 characters.
    { type: 'track', userId: 'props-2', event: 'Compressed', timestamp: '2026-06-01T12:03:00Z', properties: { plan: 'p'.repeat(5000), seats: 1 } },
  ]);
  await kit.settle();
  expect((await stored('props-2')).map((r) => [r.name, r.props])).toEqual([['Too Long', { seats: 3 }], ['Nothing Kept', null], ['No Properties', null], ['Compressed', { seats: 1 }]]);
});

it('takes a small document apart too when one of its values is not kept', async () => {
  await kit.ingest([
    { type: 'track', userId: 'props-4', event: 'All Kept', timestamp: '2026-06-01T12:00:00Z', properties: { plan: 'pro', seats: 2, trial: true } },
    { type: 'track', userId: 'props-4', event: 'With Null', timestamp: '2026-06-01T12:01:00Z', properties: { plan: 'pro', gone: null } },
    { type: 'track', userId: 'props-4', event: 'With List', timestamp: '2026-06-01T12:02:00Z', properties: { plan: 'pro', tags: ['a'] } },
    { type: 'track', userId: 'props-4', event: 'With Object', timestamp: '2026-06-01T12:03:00Z', properties: { plan: { a: 1 }, seats: 1 } },
    { type: 'track', userId: 'props-4', event: 'With Other Key', timestamp: '2026-06-01T12:04:00Z', properties: { plan: 'pro', other: 'x' } },
  ]);
  await kit.settle();
  expect((await stored('props-4')).map((r) => [r.name, r.props])).toEqual([
    ['All Kept', { plan: 'pro', seats: 2, trial: true }], ['With Null', { plan: 'pro' }], ['With List', { plan: 'pro' }],
    ['With Object', { seats: 1 }], ['With Other Key', { plan: 'pro' }],
  ]);
});

it('stores page and screen views under the names a step matches, and not identify events', async () => {
  await kit.ingest([
    { type: 'page', userId: 'props-3', name: 'Pricing', timestamp: '2026-06-01T12:00:00Z', properties: { plan: 'team' } },
    { type: 'screen', userId: 'props-3', name: 'Settings', timestamp: '2026-06-01T12:01:00Z' },
    { type: 'identify', userId: 'props-3', traits: { plan: 'team' }, timestamp: '2026-06-01T12:02:00Z' },
  ]);
  await kit.settle();
  expect((await stored('props-3')).map((r) => [r.name, r.props])).toEqual([['Page Viewed', { plan: 'team' }], ['Screen Viewed', null]]);
});
