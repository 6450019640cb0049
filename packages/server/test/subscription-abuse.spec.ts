import { definePlugin } from '@rapport/core';
import { subscriptionStream, type SubscriptionSink } from '@rapport/schema';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { Field, Int, ObjectType, Resolver, Root, Subscription } from 'type-graphql';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { until } from './support/until';

// What a hostile or broken graphql-ws client may do to the WebSocket transport, found by an outside review: reuse one
// subscription id while the server still prepares it, churn subscribe messages, hold sockets open without
// authenticating, and subscribe with a key revoked since it connected.

@ObjectType('AbuseTick')
class Tick {
  @Field(() => Int) n: number;
}
const sinks = new Set<SubscriptionSink<Tick>>();

@Resolver(() => Tick)
class AbuseResolver {
  @Subscription(() => Tick, {
    subscribe: () => subscriptionStream<Tick>((sink) => {
      sinks.add(sink);
      return () => void sinks.delete(sink);
    }),
  })
  abuseTicks(@Root() t: Tick): Tick {
    return t;
  }
}
const abuse = definePlugin(() => ({ name: 'abuse', resolvers: [AbuseResolver] }));

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [abuse()], api: { subscriptionsPerConnection: 2 } });
});
afterAll(async () => env?.close());

async function live(): Promise<number> {
  const text = await (await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } })).text();
  return Number(/^rapport_graphql_subscriptions (\d+)$/m.exec(text)?.[1] ?? 0);
}

interface Client {
  socket: WebSocket;
  messages: Array<Record<string, unknown>>;
  closed: Promise<number>;
}

async function connect(key: string | null): Promise<Client> {
  const socket = new WebSocket(`${env.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: Array<Record<string, unknown>> = [];
  socket.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
  const closed = new Promise<number>((r) => socket.once('close', (code) => r(code)));
  await new Promise((r, j) => {
    socket.once('open', r);
    socket.once('error', j);
  });
  if (key) {
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } }));
    await until(() => messages.some((m) => m.type === 'connection_ack'), Boolean);
  }
  return { socket, messages, closed };
}

const subscribe = (id: string) => JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { abuseTicks { n } }' } });
const complete = (id: string) => JSON.stringify({ id, type: 'complete' });

it('keeps one subscription per id however the client reuses it, and ends it on complete and on close', async () => {
  const c = await connect(env.keys.app);
  // Subscribe, complete, subscribe again, of one id, faster than the server prepares a subscription.
  for (let i = 0; i < 5; i++) {
    c.socket.send(subscribe('x'));
    c.socket.send(complete('x'));
  }
  c.socket.send(subscribe('x'));
  await until(live, (n) => n === 1);
  await until(() => sinks.size, (n) => n === 1);
  // The client's complete of that id ends the one subscription it has: nothing runs on untracked.
  c.socket.send(complete('x'));
  expect(await until(live, (n) => n === 0)).toBe(0);
  expect(await until(() => sinks.size, (n) => n === 0)).toBe(0);
  // Again, then the socket closes with the subscription live.
  for (let i = 0; i < 5; i++) {
    c.socket.send(subscribe('y'));
    c.socket.send(complete('y'));
  }
  c.socket.send(subscribe('y'));
  await until(() => sinks.size, (n) => n === 1);
  c.socket.close();
  await c.closed;
  expect(await until(live, (n) => n === 0)).toBe(0);
  expect(await until(() => sinks.size, (n) => n === 0)).toBe(0);
});

it('takes a subscribe sent right after connection_init, without waiting for the acknowledgement', async () => {
  const c = await connect(null);
  c.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${env.keys.app}` } }));
  c.socket.send(subscribe('early'));
  await until(() => sinks.size, (n) => n === 1);
  for (const sink of sinks) sink.push({ n: 7 });
  const next = await until(() => c.messages.find((m) => m.type === 'next' && m.id === 'early'), Boolean);
  expect(next).toMatchObject({ payload: { data: { abuseTicks: { n: 7 } } } });
  c.socket.close();
  await c.closed;
  await until(() => sinks.size, (n) => n === 0);
});

it('refuses subscribe messages past 10 a minute per subscription a connection may hold', async () => {
  const c = await connect(env.keys.app);
  // subscriptionsPerConnection 2: 20 subscribe messages a minute.
  for (let i = 0; i < 22; i++) {
    c.socket.send(subscribe(`s${i}`));
    c.socket.send(complete(`s${i}`));
  }
  const refused = await until(() => c.messages.find((m) => m.type === 'error'), Boolean);
  expect(refused).toMatchObject({ id: 's20', payload: [{ extensions: { code: 'RATE_LIMITED', rule: 'subscribesPerMinute', limit: 20 } }] });
  c.socket.close();
  await c.closed;
});

it('refuses the upgrade of an address that holds 20 sockets that never authenticated', async () => {
  const waiting: Client[] = [];
  for (let i = 0; i < 20; i++) waiting.push(await connect(null));
  const refused = await new Promise<number>((resolve) => {
    const s = new WebSocket(`${env.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    s.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    s.once('open', () => resolve(101));
    s.once('error', () => undefined);
  });
  expect(refused).toBe(429);
  // Once one authenticates, the address may open another.
  waiting[0]!.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${env.keys.app}` } }));
  await until(() => waiting[0]!.messages.some((m) => m.type === 'connection_ack'), Boolean);
  const more = await connect(null);
  expect(more.socket.readyState).toBe(WebSocket.OPEN);
  for (const c of [...waiting, more]) c.socket.close();
  await Promise.all([...waiting, more].map((c) => c.closed));
});

it('starts nothing for a key revoked since the connection authenticated, and closes it 4403', async () => {
  const created = await env.graphql('mutation { createApiKey(input: { name: "revoked-later", roles: ["app"] }) { key apiKey { id } } }');
  const { key, apiKey } = created.body.data.createApiKey as { key: string; apiKey: { id: string } };
  const c = await connect(key);
  await env.graphql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: apiKey.id });
  // The key check is cached for up to 5 s (as for every event); past it, a subscribe starts nothing.
  await new Promise((r) => setTimeout(r, 5_500));
  c.socket.send(subscribe('after-revoke'));
  expect(await c.closed).toBe(4403);
  expect(sinks.size).toBe(0);
}, 20_000);
