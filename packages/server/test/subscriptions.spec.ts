import { definePlugin } from '@rapport/core';
import { Profile, subscriptionStream, type RequestContext, type SubscriptionSink } from '@rapport/schema';
import { startServer } from '@rapport/server';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import { Ctx, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { until } from './support/until';

// The WebSocket transport of GraphQL subscriptions (graphql-transport-ws on /graphql), through a tiny fixture plugin
// whose `ticks` subscription the test feeds: limits, timeouts, slow consumers, database faults, revoked keys, shutdown.

@ObjectType('FixtureTick')
class Tick {
  @Field(() => Int) n: number;
  @Field(() => String) padding: string;
  @Field(() => ID, { nullable: true }) profileId: string | null;
}

/** The sinks of the live `ticks` subscriptions, in every server of this file. */
const sinks = new Set<SubscriptionSink<Tick>>();
const tick = (n: number, extra: Partial<Tick> = {}) => {
  for (const s of sinks) s.push({ n, padding: '', profileId: null, ...extra });
};

/** A subscription's source: a stream fed by `tick`, with room for `maxBuffered` waiting. */
const ticksInto = (maxBuffered: number) => () =>
  subscriptionStream<Tick>((sink) => {
    sinks.add(sink);
    return () => void sinks.delete(sink);
  }, { maxBuffered });

@Resolver(() => Tick)
class TickResolver {
  @Subscription(() => Tick, { subscribe: ticksInto(100_000) })
  ticks(@Root() t: Tick): Tick {
    return t;
  }

  /** The same ticks, with room for 5 waiting. */
  @Subscription(() => Tick, { subscribe: ticksInto(5) })
  shortTicks(@Root() t: Tick): Tick {
    return t;
  }

  @FieldResolver(() => Profile, { nullable: true })
  async profile(@Root() t: Tick, @Ctx() ctx: RequestContext): Promise<Profile | null> {
    return t.profileId ? ((await ctx.profilesById([t.profileId]))[0] ?? null) : null;
  }
}
const ticker = definePlugin(() => ({ name: 'ticker', resolvers: [TickResolver] }));

let env: TestEnvironment;
let pg: PgClient;
const clients: Client[] = [];
const LIMITS = { subscriptionConnectionsPerKey: 2, subscriptionInitTimeoutMs: 400, subscriptionIdleTimeoutMs: 1500, subscriptionBufferBytes: 64 * 1024 };

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [ticker()], api: LIMITS, database: { statementTimeoutMs: 1500 }, consent: { piiTraits: ['email'] } });
  pg = new PgClient({ connectionString: env.database.url, application_name: 'rapport-test-admin' });
  await pg.connect();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.dispose();
  await until(metric, (m) => m.subscriptions === 0 && m.connections === 0);
});
afterAll(async () => {
  await pg?.end().catch(() => undefined);
  await env?.close();
});

type Server = { url: string };
const wsUrl = (e: Server = env) => `${e.url.replace(/^http/, 'ws')}/graphql`;

function connect(key: string | null, e: Server = env) {
  const closed: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: wsUrl(e), webSocketImpl: WebSocket, retryAttempts: 0,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    on: { closed: (ev) => void closed.push({ code: (ev as { code: number }).code, reason: (ev as { reason: string }).reason }) },
  });
  clients.push(client);
  return { client, closed };
}

function subscribe(client: Client, query = 'subscription { ticks { n } }') {
  const results: ExecutionResult<any>[] = [];
  const state: { error: unknown; complete: boolean } = { error: undefined, complete: false };
  let wake: () => void = () => undefined;
  client.subscribe({ query }, {
    next: (r) => { results.push(r as ExecutionResult<any>); wake(); },
    error: (e) => { state.error = e; wake(); },
    complete: () => { state.complete = true; wake(); },
  });
  const untilOk = async (ok: () => boolean) => {
    while (!ok()) await new Promise<void>((r) => (wake = r));
  };
  return { results, state, until: untilOk, ended: () => untilOk(() => state.error !== undefined || state.complete) };
}

/** Open connections and live subscriptions, from /metrics. */
async function metric(e: Server = env): Promise<{ connections: number; subscriptions: number }> {
  const text = await (await fetch(`${e.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } })).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { connections: read('rapport_graphql_ws_connections'), subscriptions: read('rapport_graphql_subscriptions') };
}

/** A raw WebSocket speaking graphql-transport-ws, for what a well-behaved client never does. */
function raw(e: Server = env): Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const socket = new WebSocket(wsUrl(e), 'graphql-transport-ws');
  const closed = new Promise<{ code: number; reason: string }>((r) => socket.on('close', (code, reason) => r({ code, reason: String(reason) })));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

describe('transport', () => {
  it('serves a subscription to any valid key and executes each event', async () => {
    const sub = subscribe(connect(env.keys.app).client);
    await until(metric, (m) => m.subscriptions === 1);
    tick(1);
    tick(2);
    await sub.until(() => sub.results.length === 2);
    expect(sub.results).toEqual([{ data: { ticks: { n: 1 } } }, { data: { ticks: { n: 2 } } }]);
  });

  it('answers a subscription sent over HTTP with a 400 that points to the WebSocket', async () => {
    const r = await env.graphql('subscription { ticks { n } }');
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({
      message: 'subscriptions are served over WebSocket: connect to /graphql with the graphql-transport-ws protocol (graphql-ws)',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule: 'operationType' },
    });
  });

  it('refuses a query over the WebSocket: queries and mutations go over HTTP', async () => {
    const sub = subscribe(connect(env.keys.admin).client, '{ health { status } }');
    await sub.ended();
    expect(sub.state.error).toEqual([expect.objectContaining({
      message: 'a query is served over HTTP: POST it to /graphql; this WebSocket serves subscriptions',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule: 'operationType', operation: 'query' },
    })]);
  });

  it('refuses upgrades on other paths', async () => {
    const socket = new WebSocket(`${env.url.replace(/^http/, 'ws')}/v1/batch`, 'graphql-transport-ws');
    const status = await new Promise<number>((r) => socket.on('unexpected-response', (_req, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });
});

describe('limits', () => {
  it('closes a connection over the per-key limit with 4429, and accepts it again once one closes', async () => {
    const a = connect(env.keys.app);
    const b = connect(env.keys.app);
    subscribe(a.client);
    subscribe(b.client);
    await until(metric, (m) => m.subscriptions === 2);
    const c = connect(env.keys.app);
    const third = subscribe(c.client);
    await third.ended();
    expect(c.closed[0]).toEqual({ code: 4429, reason: 'this key holds 2 connections, the limit (api.subscriptionConnectionsPerKey)' });
    // Another key is not affected.
    const other = subscribe(connect(env.keys.admin).client);
    await until(metric, (m) => m.subscriptions === 3);
    await a.client.dispose();
    await until(metric, (m) => m.connections === 2);
    const d = subscribe(connect(env.keys.app).client);
    await until(metric, (m) => m.subscriptions === 3);
    expect([other.state.error, d.state.error]).toEqual([undefined, undefined]);
  });

  it('closes a socket that does not authenticate in time with 4408', async () => {
    const { closed } = await raw();
    expect(await closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
  });

  it('closes a connection without a subscription after the idle timeout (1000)', async () => {
    const { socket, closed } = await raw();
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${env.keys.app}` } }));
    expect(await closed).toEqual({ code: 1000, reason: 'idle: no subscription for 1500 ms' });
  });

  it('disconnects a client that does not read, instead of buffering for it', async () => {
    const { socket, closed } = await raw();
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${env.keys.app}` } }));
    await new Promise((r) => socket.once('message', r)); // connection_ack
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { ticks { n padding } }' } }));
    await until(metric, (m) => m.subscriptions === 1);
    // Stop reading: the kernel's buffers fill, then the server's.
    (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const padding = 'x'.repeat(16 * 1024);
    for (let n = 0; n < 4000 && (await metric()).connections > 0; n += 200) {
      for (let i = 0; i < 200; i++) tick(n + i, { padding });
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await until(metric, (m) => m.connections === 0)).toEqual({ connections: 0, subscriptions: 0 });
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await closed).code).toBeOneOf([1013, 1006]);
  });

  it('ends a subscription whose events pile up past its stream\'s maxBuffered', async () => {
    const sub = subscribe(connect(env.keys.app).client, 'subscription { shortTicks { n } }');
    await until(metric, (m) => m.subscriptions === 1);
    for (let n = 0; n < 50; n++) tick(n); // in one turn of the event loop: none can be sent meanwhile
    await sub.ended();
    expect(sub.state.error).toEqual([expect.objectContaining({ extensions: { code: 'RATE_LIMITED', field: 'subscription', rule: 'maxBuffered' } })]);
    expect(sub.results.length).toBeLessThanOrEqual(5);
    expect(await until(metric, (m) => m.subscriptions === 0)).toEqual({ connections: 1, subscriptions: 0 });
  });
});

describe('faults', () => {
  it('turns a database fault into that event\'s error, keeping the connection and the process', async () => {
    const person = await env.post('/v1/identify', { userId: 'tick-person', traits: { email: 'tick@example.com' } }, { key: env.keys.admin });
    const profileId = person.body.profileId as string;
    // Reading the email (personal data) needs its audit row: written before the event is sent.
    const sub = subscribe(connect(env.keys.admin).client, 'subscription { ticks { n profile { id traits } } }');
    await until(metric, (m) => m.subscriptions === 1);
    await pg.query('BEGIN');
    await pg.query('LOCK TABLE rapport_audit_log IN ACCESS EXCLUSIVE MODE');
    try {
      tick(1, { profileId });
      await sub.until(() => sub.results.length === 1);
    } finally {
      await pg.query('ROLLBACK');
    }
    // The audit write timed out: the event carries the error and none of the data it could not audit.
    expect(sub.results[0]).toEqual({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'DATABASE_UNAVAILABLE' }) })] });
    tick(2, { profileId });
    await sub.until(() => sub.results.length === 2);
    expect(sub.results[1]).toEqual({ data: { ticks: { n: 2, profile: { id: profileId, traits: { email: 'tick@example.com' } } } } });
    expect((await fetch(`${env.url}/livez`)).status).toBe(200);
  });

  it('closes the connection of a key revoked while it was open (4403), at its next event', async () => {
    const created = await env.graphql(`mutation { createApiKey(input: { roles: ["app"] }) { key apiKey { id } } }`);
    expect(created.body.errors).toBeUndefined();
    const { key, apiKey } = created.body.data.createApiKey;
    const { client, closed } = connect(key);
    const sub = subscribe(client);
    await until(metric, (m) => m.subscriptions === 1);
    tick(1);
    await sub.until(() => sub.results.length === 1);
    expect((await env.graphql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: apiKey.id })).body.errors).toBeUndefined();
    // The key cache holds a verdict for up to 5 s: tick until the revocation is seen.
    for (let n = 2; closed.length === 0; n++) {
      tick(n);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(closed[0]).toEqual({ code: 4403, reason: 'the API key was revoked' });
  });
});

describe('shutdown', () => {
  it('closes every socket with 1001 when the server closes, and ends their subscriptions', async () => {
    // A server of its own (startServer), so that this test closes it once.
    const second = await startServer({ plugins: [ticker()], api: LIMITS, database: { url: env.database.url }, port: 0 });
    const { client, closed } = connect(env.keys.app, second);
    const sub = subscribe(client);
    await until(() => metric(second), (m) => m.subscriptions === 1);
    const before = sinks.size;
    await second.close();
    await sub.ended();
    expect(closed[0]).toEqual({ code: 1001, reason: 'the server is shutting down' });
    expect(sinks.size).toBe(before - 1);
  });
});
