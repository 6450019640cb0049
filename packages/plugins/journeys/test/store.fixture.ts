/**
 * Six real profiles (five allow analytics, one refused it), for tests that write track events straight into core's
 * event table (what the plugin reads through `ctx.events.all()`) and compare SQL answers with a reference: the
 * consent SQL applies to real people. Written in SQL, not ingested, because property tests store hundreds of event
 * sets; each event's id is {@link EVENT_ID_BASE} plus the reference's id, so ties in time order the same way.
 */
import type { PluginContext } from '@rapport/core';
import { createPluginTestkit, type PluginTestkit } from '@rapport/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { journeysPlugin } from '../src';
import type { RefEvent } from './reference';

export interface StoreFixture {
  kit: PluginTestkit;
  ctx: PluginContext;
  /** Profile ids: the first five allow analytics, the sixth refused it. */
  people: string[];
  allowed: Set<string>;
  /** Replaces the people's track events with `events`. */
  store(events: RefEvent[]): Promise<void>;
}

/** Added to a reference event's id to make its stored id (above the ids of the fixture's identify events). */
export const EVENT_ID_BASE = 1_000_000_000;

export async function storeFixture(): Promise<StoreFixture> {
  const plugin = journeysPlugin();
  const kit = await createPluginTestkit([plugin]);
  const r = await kit.ingest([
    ...['p0', 'p1', 'p2', 'p3', 'p4'].map((u) => ({ type: 'identify', userId: u })),
    { type: 'identify', userId: 'refuser', context: { consent: { categoryPreferences: { analytics: false } } } },
  ]);
  expect(r.rejected).toEqual([]);
  const people = r.accepted.map((a) => a.profileId);
  await kit.settle();
  const ctx = kit.core.pluginContext(plugin);
  return {
    kit, ctx, people, allowed: new Set(people.slice(0, 5)),
    async store(events) {
      await ctx.db.query("DELETE FROM rapport_event WHERE type = 'track'");
      if (events.length === 0) return;
      await ctx.db.query(
        `INSERT INTO rapport_event (id, message_id, profile_id, origin_profile_id, type, name, properties, timestamp, received_at)
         SELECT x.id, 'fixture-' || x.id, x.profile_id, x.profile_id, 'track', x.name, x.props,
                'epoch'::timestamptz + x.ts * interval '1 millisecond', now()
           FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::jsonb[]) AS x(id, profile_id, name, ts, props)`,
        [events.map((e) => EVENT_ID_BASE + e.eventId), events.map((e) => e.profileId), events.map((e) => e.name), events.map((e) => e.ts), events.map((e) => JSON.stringify(e.props))],
      );
    },
  };
}

/**
 * Registers the fixture for the calling spec file (built before its tests, closed after) and returns it; its fields
 * are filled once `beforeAll` has run.
 */
export function useStoreFixture(): StoreFixture {
  const f = { people: [] as string[] } as unknown as StoreFixture;
  beforeAll(async () => {
    Object.assign(f, await storeFixture());
  });
  afterAll(async () => f.kit?.close());
  return f;
}
