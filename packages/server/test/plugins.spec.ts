import { definePlugin, type RapportPlugin } from '@rapport/core/internal';
import { startServer } from '@rapport/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestEnvironment, type TestDatabase } from '@rapport/testing';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db?.drop());

const plugin = (name: string, dependsOn: string[] = [], extra: Partial<RapportPlugin> = {}) => definePlugin(() => ({ name, dependsOn, ...extra }))();
const start = (plugins: RapportPlugin[]) => startServer({ database: { url: db.url }, plugins, port: 0 });

describe('plugin registry', () => {
  it('refuses two plugins with one name, at start, with a clear message', async () => {
    await expect(start([plugin('loyalty'), plugin('loyalty')])).rejects.toThrow('two plugins are named "loyalty": plugin names must be unique');
  });

  it('refuses a dependsOn cycle, naming it', async () => {
    await expect(start([plugin('a', ['c']), plugin('b', ['a']), plugin('c', ['b'])])).rejects.toThrow(
      'plugin dependency cycle: a -> c -> b -> a; remove one of these dependsOn entries',
    );
  });

  it('refuses a dependency that is not installed', async () => {
    await expect(start([plugin('reviews', ['catalog'])])).rejects.toThrow('plugin "reviews" depends on "catalog", which is not installed');
  });

  it('runs hooks in dependsOn order, whatever the list order', async () => {
    const calls: string[] = [];
    const mk = (name: string, deps: string[] = []) =>
      plugin(name, deps, {
        onInit: () => void calls.push(`init:${name}`),
        onEvent: (e) => void calls.push(`event:${name}:${e.name}`),
        onShutdown: () => void calls.push(`shutdown:${name}`),
      });
    const env = await createTestEnvironment({ plugins: [mk('journeys', ['sentiment']), mk('sentiment', ['catalog']), mk('catalog')] });
    await env.post('/v1/track', { userId: 'p1', event: 'Hello' });
    await env.close();
    expect(calls).toEqual([
      'init:catalog', 'init:sentiment', 'init:journeys',
      'event:catalog:Hello', 'event:sentiment:Hello', 'event:journeys:Hello',
      'shutdown:journeys', 'shutdown:sentiment', 'shutdown:catalog',
    ]);
  });

  it('a hook that throws synchronously does not skip the next plugin, and hooks see the stored event', async () => {
    const seen: Array<{ id: string; originProfileId: string; profileId: string }> = [];
    const env = await createTestEnvironment({
      plugins: [
        plugin('throws-sync', [], { onEvent: () => { throw new Error('sync boom'); } }),
        plugin('records', ['throws-sync'], { onEvent: (e) => void seen.push({ id: e.id, originProfileId: e.originProfileId, profileId: e.profileId }) }),
      ],
    });
    await env.post('/v1/track', { userId: 'p3', event: 'Seen' });
    await env.close();
    expect(seen).toHaveLength(1);
    expect(seen[0].id).toMatch(/^\d+$/);
    expect(seen[0].originProfileId).toBe(seen[0].profileId);
  });

  it('a hook that throws is logged and does not undo or fail the ingestion', async () => {
    const env = await createTestEnvironment({ plugins: [plugin('flaky', [], { onEvent: () => Promise.reject(new Error('boom')) })] });
    const r = await env.post('/v1/track', { userId: 'p2', event: 'Still stored' });
    expect(r.status).toBe(200);
    const q = await env.graphql(`{ profileByIdentity(type: "user_id", value: "p2") { events { nodes { name } } } }`);
    expect(q.body.data.profileByIdentity.events.nodes).toEqual([{ name: 'Still stored' }]);
    await env.close();
  });
});
