/**
 * A seeded shop for the funnelProfiles and trait-breakdown tests, on a real server: 40 people with traits (some under
 * field policies), random events with frequent ties, three of them refusing analytics and a third granting
 * personalization. The events the plugin reads are read back for the reference (test/reference.ts).
 */
import type { RapportPlugin } from '@rapport/core';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { expect } from 'vitest';
import { journeyEventsSql, journeysPlugin } from '../src';
import { prng } from '../src/eval/synthetic-journeys';
import type { RefEvent } from './reference';

export const T = Date.UTC(2026, 2, 2, 9, 0, 0);
export const PEOPLE = 40;
export const NAMES = ['Viewed', 'Carted', 'Paid', 'Browsed'];
export const ANALYTICS = { 'x-rapport-purpose': 'analytics' };

/** The field policies and roles of the tests: app keys get journeys:read; `analyst` has journeys:read only. */
export const CONFIG = {
  roles: { app: ['journeys:read'], analyst: ['journeys:read'] },
  consent: {
    piiTraits: ['phone'],
    policies: [
      { type: 'Profile', field: 'traits.secretNote', roles: ['admin'] },
      { type: 'Profile', field: 'traits.email', roles: ['app', 'admin'], purposes: ['analytics'], pii: true },
      { type: 'Profile', field: 'traits.favoriteColor', purposes: ['personalization'] },
      { type: 'Profile', field: 'traits.tier', purposes: ['analytics', 'personalization'] },
    ],
  },
};

/** What the fixture knows of each person, by user id. */
export interface Person {
  userId: string;
  refusesAnalytics: boolean;
  grantsPersonalization: boolean;
  traits: Record<string, string>;
}

export interface ShopFixture {
  env: TestEnvironment;
  people: Person[];
  /** user id -> profile id, and back. */
  profileOf: Map<string, string>;
  userOf: Map<string, string>;
  /** Profile ids of the people who allow analytics. */
  allowed: Set<string>;
  /** The events the plugin reads (`journeyEventsSql`), as the reference reads events. */
  events: RefEvent[];
  /** API keys: app acting for analytics, app acting for personalization, analyst (journeys:read only) for analytics. */
  keys: { app: string; appPersonal: string; analyst: string };
}

function person(i: number, rnd: () => number): Person {
  const r = rnd();
  const plan = r < 0.45 ? 'pro' : r < 0.8 ? 'free' : r < 0.9 ? 'team' : undefined;
  const traits: Record<string, string> = {
    email: `u${i}@example.com`, secretNote: `note ${i}`, phone: `+4930${1000 + i}`, favoriteColor: ['teal', 'red'][i % 2]!, tier: ['gold', 'silver'][i % 2]!,
  };
  if (plan) traits.plan = plan;
  return { userId: `u-${i}`, refusesAnalytics: i % 13 === 0, grantsPersonalization: i % 3 === 0, traits };
}

/** The seeded messages: an identify per person (traits, consent), then 2 to 8 track events each. */
function messages(people: Person[], rnd: () => number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const p of people) {
    const prefs: Record<string, boolean> = {};
    if (p.refusesAnalytics) prefs.analytics = false;
    if (p.grantsPersonalization) prefs.personalization = true;
    out.push({ type: 'identify', userId: p.userId, traits: p.traits, timestamp: new Date(T - 3600_000).toISOString(), context: { consent: { categoryPreferences: prefs } } });
    const n = 2 + Math.floor(rnd() * 7);
    for (let k = 0; k < n; k++) {
      // Minutes only, over 20 minutes: equal times are frequent.
      const ts = T + Math.floor(rnd() * 20) * 60_000;
      const w = rnd();
      const event = w < 0.35 ? 'Viewed' : w < 0.6 ? 'Carted' : w < 0.8 ? 'Paid' : 'Browsed';
      out.push({ type: 'track', userId: p.userId, event, timestamp: new Date(ts).toISOString(), properties: { src: rnd() < 0.5 ? 'ad' : 'seo' } });
    }
  }
  return out;
}

/** Creates an API key with these roles and purposes (as an admin). */
export async function createKey(env: TestEnvironment, roles: string[], purposes: string[]): Promise<string> {
  const r = await env.graphql(`mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }`, { i: { name: `k-${roles.join('-')}-${purposes.join('-')}`, roles, purposes } });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.createApiKey.key;
}

/** Starts the server with the journeys plugin (and `extra` plugins), ingests the shop and reads its events back. */
export async function shopFixture(extra: RapportPlugin[] = []): Promise<ShopFixture> {
  const plugin = journeysPlugin();
  const env = await createTestEnvironment({ ...CONFIG, plugins: [plugin, ...extra] });
  try {
    const rnd = prng(16);
    const people = Array.from({ length: PEOPLE }, (_, i) => person(i, rnd));
    const r = await env.post('/v1/batch', { batch: messages(people, rnd) });
    expect(r.status).toBe(200);
    await env.settle();
    const ids = await env.graphql(`{ profiles(first: 100) { nodes { id identities { type value } } } }`, {}, { headers: ANALYTICS });
    // (The email identities of the people who refused analytics are denied: only user ids are needed here.)
    expect(ids.body.data.profiles.nodes).toHaveLength(PEOPLE);
    const profileOf = new Map<string, string>();
    for (const n of ids.body.data.profiles.nodes) {
      const u = n.identities.find((i: { type: string }) => i.type === 'user_id');
      if (u) profileOf.set(u.value, n.id);
    }
    expect(profileOf.size).toBe(PEOPLE);
    const userOf = new Map([...profileOf].map(([u, p]) => [p, u]));
    const allowed = new Set(people.filter((p) => !p.refusesAnalytics).map((p) => profileOf.get(p.userId)!));
    const ctx = env.server.core.pluginContext(plugin);
    const rows = await ctx.db.query<{ event_id: string; profile_id: string; name: string; ts: string; props: Record<string, string> | null }>(
      `SELECT event_id, profile_id, name, ts, props FROM ${journeyEventsSql(ctx)} e`,
    );
    const events = rows.map((e): RefEvent => ({ eventId: Number(e.event_id), profileId: e.profile_id, name: e.name, ts: Number(e.ts), props: e.props ?? {} }));
    const keys = {
      app: await createKey(env, ['app'], ['analytics']),
      appPersonal: await createKey(env, ['app'], ['personalization']),
      analyst: await createKey(env, ['analyst'], ['analytics']),
    };
    return { env, people, profileOf, userOf, allowed, events, keys };
  } catch (err) {
    await env.close();
    throw err;
  }
}
