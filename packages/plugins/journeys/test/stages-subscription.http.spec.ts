import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { journeysPlugin } from '../src';

// The journeyStageChanged subscription in a real server: a real graphql-ws client over WebSocket, events in through
// /v1/batch, stage changes out as they commit, with the same keys, purposes, limits and field guard as HTTP.
let env: TestEnvironment;
const keys: Record<'analyst' | 'watcher' | 'noPurpose', string> = { analyst: '', watcher: '', noPurpose: '' };
const clients: Client[] = [];

beforeAll(async () => {
  env = await createTestEnvironment({
    plugins: [journeysPlugin({ k: 1 })],
    roles: { analyst: ['journeys:read', 'profiles:read'], watcher: ['journeys:read'] },
    api: { subscriptionsPerConnection: 2, maxDepth: 4 },
    // Only admins read the email trait (personal data).
    consent: { piiTraits: ['email'], policies: [{ type: 'Profile', field: 'traits.email', roles: ['admin'], pii: true }] },
  });
  const r = await env.graphql(`mutation($input: JourneyInput!) { defineJourney(input: $input) { name } }`, {
    input: { name: 'Shop', stages: [{ name: 'Visitor', when: [{ event: 'Page Viewed' }] }, { name: 'Customer', when: [{ event: 'Order Completed' }] }] },
  }, { headers: { 'x-rapport-purpose': 'analytics' } });
  expect(r.body.errors).toBeUndefined();
  const make = async (roles: string[], purposes: string[]) =>
    (await env.server.core.services.keys.create({ name: `sub-${roles.join('-')}-${purposes.length}`, roles, purposes })).key;
  keys.analyst = await make(['analyst'], ['analytics']);
  keys.watcher = await make(['watcher'], ['analytics']);
  keys.noPurpose = await make(['analyst'], ['analytics', 'support']); // two purposes: none by default
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.dispose();
  await untilLive(0);
});
afterAll(async () => env?.close());

/** A graphql-ws client of the test server; `closed` gets the close codes it sees. No retries. */
function connect(connectionParams: Record<string, unknown>) {
  const closed: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: `${env.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    on: { closed: (e) => void closed.push({ code: (e as { code: number }).code, reason: (e as { reason: string }).reason }) },
  });
  clients.push(client);
  return { client, closed };
}
const as = (key: string, extra: Record<string, unknown> = {}) => connect({ authorization: `Bearer ${key}`, ...extra });

/** One subscription's results, error and completion, with a way to wait for what the test expects. */
function subscribe(client: Client, query: string, variables: Record<string, unknown> = { j: 'Shop' }) {
  const results: ExecutionResult<any>[] = [];
  const state: { error: unknown; complete: boolean } = { error: undefined, complete: false };
  let wake: () => void = () => undefined;
  const changed = () => wake();
  const stop = client.subscribe({ query, variables }, {
    next: (r) => { results.push(r as ExecutionResult<any>); changed(); },
    error: (e) => { state.error = e; changed(); },
    complete: () => { state.complete = true; changed(); },
  });
  /** Resolves when `ok` holds (the test's timeout bounds the wait). */
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise<void>((r) => (wake = r));
  };
  return { results, state, until, stop, ended: () => until(() => state.error !== undefined || state.complete) };
}

/** Live subscriptions on the server, from /metrics: a subscription's source is registered once it counts. */
async function liveSubscriptions(): Promise<number> {
  const res = await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } });
  const m = /^rapport_graphql_subscriptions (\d+)$/m.exec(await res.text());
  return Number(m?.[1] ?? 0);
}
async function untilLive(n: number): Promise<void> {
  while ((await liveSubscriptions()) !== n) await new Promise((r) => setTimeout(r, 20));
}

async function send(...batch: Record<string, unknown>[]): Promise<void> {
  const r = await env.post('/v1/batch', { batch });
  expect(r.status).toBe(200);
  await env.settle();
}
const idOf = async (userId: string): Promise<string> =>
  (await env.graphql(`query($v: String!) { profileByIdentity(type: "user_id", value: $v) { id } }`, { v: userId })).body.data.profileByIdentity.id;

const CHANGES = `subscription($j: String!) { journeyStageChanged(journey: $j) { id journey fromStage toStage reason enteredAt profile { id } } }`;

it('announces a stage change that events through /v1/batch cause, with the person and when they entered', async () => {
  const sub = subscribe(as(keys.analyst).client, CHANGES);
  await untilLive(1);
  await send({ type: 'page', userId: 'sub-ada', name: 'Home' });
  await sub.until(() => sub.results.length >= 1);
  await send({ type: 'track', userId: 'sub-ada', event: 'Order Completed' });
  await sub.until(() => sub.results.length >= 2);
  const id = await idOf('sub-ada');
  expect(sub.results.map((r) => r.errors)).toEqual([undefined, undefined]);
  const [first, second] = sub.results.map((r) => r.data.journeyStageChanged);
  expect(first).toMatchObject({ journey: 'Shop', fromStage: null, toStage: 'Visitor', reason: 'event', profile: { id } });
  expect(second).toMatchObject({ journey: 'Shop', fromStage: 'Visitor', toStage: 'Customer', reason: 'event', profile: { id } });
  expect(BigInt(second.id)).toBeGreaterThan(BigInt(first.id));
  // enteredAt is the stage's own, as Profile.journey gives it.
  const now = await env.graphql(`query($v: String!) { profileByIdentity(type: "user_id", value: $v) { journey(name: "Shop") { stage enteredAt } } }`,
    { v: 'sub-ada' }, { headers: { 'x-rapport-purpose': 'analytics' } });
  expect(now.body.data.profileByIdentity.journey).toEqual({ stage: 'Customer', enteredAt: second.enteredAt });
});

it('closes a connection without a key (4401) or with a bad one (4401)', async () => {
  for (const params of [{}, { authorization: 'Bearer not-a-key' }]) {
    const { client, closed } = connect(params);
    const sub = subscribe(client, CHANGES);
    await sub.ended();
    expect(closed[0]?.code).toBe(4401);
    expect(sub.results).toEqual([]);
  }
});

it('refuses a key whose roles lack journeys:read, and a request that does not act for analytics', async () => {
  const app = subscribe(as(env.keys.app).client, CHANGES);
  await app.ended();
  expect(app.state.error).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
  expect((app.state.error as Array<{ message: string }>)[0]!.message).toContain('journeys:read');

  const noPurpose = subscribe(as(keys.noPurpose).client, CHANGES);
  await noPurpose.ended();
  expect(noPurpose.state.error).toEqual([expect.objectContaining({ extensions: { code: 'VALIDATION_FAILED', field: 'purpose', rule: 'actsFor' } })]);
  // Named in connection_init, the purpose is taken; one the key may not act for closes the connection (4403).
  const named = subscribe(as(keys.noPurpose, { 'x-rapport-purpose': 'analytics' }).client, CHANGES);
  await untilLive(1);
  named.stop();
  await untilLive(0);
  const other = as(keys.noPurpose, { 'x-rapport-purpose': 'marketing' });
  const refused = subscribe(other.client, CHANGES);
  await refused.ended();
  expect(other.closed[0]).toEqual({ code: 4403, reason: 'x-rapport-purpose: this key may act for [analytics, support], not "marketing"' });
});

it('does not announce a person who refused analytics', async () => {
  await send({ type: 'page', userId: 'sub-refuser', name: 'Home' });
  const refuser = await idOf('sub-refuser');
  const sub = subscribe(as(keys.analyst).client, CHANGES);
  await untilLive(1);
  // The refusal takes them out of the journey: a change to no stage is logged (and announced to plugins)...
  const set = await env.graphql(`mutation($id: ID!) { setConsent(input: { profileId: $id, purpose: "analytics", granted: false }) { purpose } }`, { id: refuser });
  expect(set.body.errors).toBeUndefined();
  await env.settle();
  // ...then someone else moves: announced in commit order, after the refuser's change would have been.
  await send({ type: 'page', userId: 'sub-control', name: 'Home' });
  const control = await idOf('sub-control');
  await sub.until(() => sub.results.some((r) => r.data?.journeyStageChanged.profile?.id === control));
  expect(sub.results.map((r) => r.data.journeyStageChanged.profile.id)).toEqual([control]);
});

it('decides every field of every event with the field guard, as a query does', async () => {
  const query = `subscription($j: String!) { journeyStageChanged(journey: $j) { toStage profile { id email: trait(key: "email") } } }`;
  const analyst = subscribe(as(keys.analyst).client, query);
  const watcher = subscribe(as(keys.watcher).client, query);
  const admin = subscribe(as(env.keys.admin, { 'x-rapport-purpose': 'analytics' }).client, query);
  await untilLive(3);
  await send({ type: 'identify', userId: 'sub-grace', traits: { email: 'grace@example.com' } }, { type: 'page', userId: 'sub-grace', name: 'Home' });
  for (const s of [analyst, watcher, admin]) await s.until(() => s.results.length >= 1);
  const id = await idOf('sub-grace');

  expect(admin.results[0]).toEqual({ data: { journeyStageChanged: { toStage: 'Visitor', profile: { id, email: 'grace@example.com' } } } });
  // The analyst may not read the email: null, with the error a query gets.
  const viaHttp = await env.graphql(`query($id: ID!) { profile(id: $id) { id email: trait(key: "email") } }`, { id }, { key: keys.analyst });
  expect(viaHttp.body.data.profile).toEqual({ id, email: null });
  const [event] = analyst.results;
  expect(event!.data).toEqual({ journeyStageChanged: { toStage: 'Visitor', profile: { id, email: null } } });
  expect(event!.errors).toEqual([{ ...viaHttp.body.errors[0], path: ['journeyStageChanged', 'profile', 'email'] }]);
  expect(event!.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN_FIELD' });
  // A key without profiles:read gets the stage but not the person.
  expect(watcher.results[0]!.data).toEqual({ journeyStageChanged: { toStage: 'Visitor', profile: null } });
  expect(watcher.results[0]!.errors).toEqual([expect.objectContaining({ path: ['journeyStageChanged', 'profile'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
});

it('refuses a subscription over the per-connection limit, keeping the others', async () => {
  const { client } = as(keys.analyst);
  const a = subscribe(client, CHANGES);
  const b = subscribe(client, CHANGES);
  await untilLive(2);
  const c = subscribe(client, CHANGES);
  await c.ended();
  expect(c.state.error).toEqual([expect.objectContaining({ extensions: { code: 'RATE_LIMITED', rule: 'subscriptionsPerConnection', limit: 2 } })]);
  // The first two still receive.
  await send({ type: 'page', userId: 'sub-limit', name: 'Home' });
  await a.until(() => a.results.length >= 1);
  await b.until(() => b.results.length >= 1);
});

it('enforces the depth limit on a subscription document, with the HTTP error', async () => {
  // 5 levels: over api.maxDepth (4 in this file).
  const deep = `subscription { journeyStageChanged(journey: "Shop") { profile { events { nodes { name } } } } }`;
  const viaHttp = await env.graphql(`query($id: ID!) { profile(id: $id) { events { edges { node { name } } } } }`, { id: '00000000-0000-4000-8000-000000000000' }, { key: keys.analyst });
  expect(viaHttp.status).toBe(400);
  const sub = subscribe(as(keys.analyst).client, deep, {});
  await sub.ended();
  expect(sub.state.error).toEqual([{ ...viaHttp.body.errors[0], locations: [{ line: 1, column: 1 }] }]);
  expect((sub.state.error as any[])[0].extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxDepth', limit: 4, depth: 5 });
  expect(await liveSubscriptions()).toBe(0);
});

const RESUME = `subscription($j: String!, $after: ID) { journeyStageChanged(journey: $j, after: $after) { id toStage profile { id } } }`;

it('resumes after a change id: the changes logged since come first, in order, then the live ones, none twice', async () => {
  const first = subscribe(as(keys.analyst).client, RESUME, { j: 'Shop' });
  await untilLive(1);
  await send({ type: 'page', userId: 'sub-resume-1', name: 'Home' });
  await first.until(() => first.results.length >= 1);
  const seen = first.results[0]!.data.journeyStageChanged.id as string;
  first.stop();
  await untilLive(0);
  // While the client is away: two changes of this journey (and none of another person who refuses analytics).
  await send({ type: 'track', userId: 'sub-resume-1', event: 'Order Completed' });
  await send({ type: 'page', userId: 'sub-resume-2', name: 'Home' });
  await send({ type: 'page', userId: 'sub-resume-refuser', name: 'Home', context: { consent: { categoryPreferences: { analytics: false } } } });
  const back = subscribe(as(keys.analyst).client, RESUME, { j: 'Shop', after: seen });
  await back.until(() => back.results.length >= 2);
  await untilLive(1);
  await send({ type: 'track', userId: 'sub-resume-2', event: 'Order Completed' });
  await back.until(() => back.results.length >= 3);
  const got = back.results.map((r) => r.data.journeyStageChanged);
  const [one, two] = [await idOf('sub-resume-1'), await idOf('sub-resume-2')];
  expect(got.map((c: any) => [c.profile.id, c.toStage])).toEqual([[one, 'Customer'], [two, 'Visitor'], [two, 'Customer']]);
  const ids = got.map((c: any) => BigInt(c.id));
  expect(ids.every((v: bigint, i: number) => i === 0 || v > ids[i - 1]!)).toBe(true);
  expect(ids[0]).toBeGreaterThan(BigInt(seen));
  expect(back.results.length).toBe(3);
});

it('refuses to resume after something that is not a change id, naming the argument and the rule', async () => {
  const sub = subscribe(as(keys.analyst).client, RESUME, { j: 'Shop', after: 'yesterday' });
  await sub.ended();
  const errors = sub.state.error as Array<{ extensions?: Record<string, unknown> }>;
  expect(errors[0]?.extensions).toMatchObject({ field: 'after', rule: 'changeId' });
});
