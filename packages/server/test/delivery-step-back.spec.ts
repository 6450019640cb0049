import net from 'node:net';
import { definePlugin, type Change } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { Arg, Int, Query, Resolver } from 'type-graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from './support/until';

// While a server's requests are in flight all the time (a burst of ingestion), plugins that are behind step back
// (delivery.stepBackShare) so requests are answered first, at most delivery.stepBackMaxMs; they catch up afterwards.

const HANDLE_MS = 20;

/** A plugin that takes HANDLE_MS per change, one change a batch: a backlog of N takes N rounds. */
function slowPlugin(seen: string[], handleMs = HANDLE_MS) {
  return definePlugin(() => ({
    name: 'slowpoke',
    delivery: {
      kinds: ['event'],
      batchSize: 1,
      async handle(changes: Change[]) {
        await new Promise((r) => setTimeout(r, handleMs));
        for (const c of changes) if (c.kind === 'event') seen.push(c.event.messageId);
      },
    },
  }))();
}

@Resolver()
class SlowResolver {
  @Query(() => Boolean, { description: 'Answers after `ms` milliseconds: a request the server works on for that long.' })
  async slowAnswer(@Arg('ms', () => Int) ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return true;
  }
}
const slowQueries = definePlugin(() => ({ name: 'slow-queries', resolvers: [SlowResolver] }));

/**
 * Requests in flight until `stop`: `n` clients, staggered, each sending a 300-ms GraphQL query as soon as its last one
 * was answered, so the server always has one in hand. `stop` lets the ones in flight finish and sends no more.
 */
function requestsInFlight(env: TestEnvironment, n: number): { stop(): Promise<void> } {
  let stopped = false;
  const client = async (delay: number) => {
    await new Promise((r) => setTimeout(r, delay));
    try {
      while (!stopped) await env.graphql('{ slowAnswer(ms: 300) }');
    } catch {
      // the server closed at the end of the test
    }
  };
  const clients = Array.from({ length: n }, (_, i) => client(i * 100));
  return {
    async stop() {
      stopped = true;
      await Promise.all(clients);
    },
  };
}

/** The plugin's step-back counter on /metrics, in seconds. */
async function steppedBackSeconds(env: TestEnvironment): Promise<number> {
  const text = await (await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } })).text();
  const m = /^rapport_delivery_step_back_seconds_total\{plugin="slowpoke"\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const batch = (prefix: string, n: number) => ({
  batch: Array.from({ length: n }, (_, i) => ({ type: 'track', userId: `${prefix}-${i % 7}`, event: 'Viewed', messageId: `${prefix}-${i}` })),
});

let env: TestEnvironment | undefined;
let load: { stop(): Promise<void> } | undefined;
afterEach(async () => {
  await load?.stop(); // the requests in flight are answered before the server closes
  await env?.close();
  env = load = undefined;
});

/**
 * A server with the slow plugin (`handleMs` a change) and a share of 0.02, whose request path has been saturated for a
 * second when `n` events are sent: the plugin falls behind during the burst.
 */
async function burstWhileBusy(seen: string[], handleMs: number, stepBackMaxMs: number, prefix: string, n: number): Promise<TestEnvironment> {
  const e = await createTestEnvironment({ plugins: [slowPlugin(seen, handleMs), slowQueries()], delivery: { pollMs: 100, stepBackShare: 0.02, stepBackMaxMs } });
  env = e;
  load = requestsInFlight(e, 3);
  await new Promise((r) => setTimeout(r, 1200)); // a second of requests in flight: the request path is saturated
  expect((await e.post('/v1/batch', batch(prefix, n))).status).toBe(200);
  return e;
}

describe('deliveries step back while requests are in flight all the time', () => {
  it('a plugin behind waits its turn during the burst, and catches up once it is over', async () => {
    const seen: string[] = [];
    const server = await burstWhileBusy(seen, HANDLE_MS, 60_000, 'burst', 150);
    await new Promise((r) => setTimeout(r, 2000));
    // At full speed two seconds deliver about 2000 / HANDLE_MS changes; stepping back, a fiftieth of that.
    const during = seen.length;
    expect(during).toBeLessThan(25);
    expect(await steppedBackSeconds(server)).toBeGreaterThan(0.5);
    void load!.stop();
    await until(() => seen.length, (n) => n === 150, 20_000);
    expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => `burst-${i}`));
  }, 40_000);

  it('one behind for longer than stepBackMaxMs runs at full speed though requests keep coming', async () => {
    const seen: string[] = [];
    // 100 ms a change at a share of 0.02 owes about 5 s of waiting after each one: the bound cuts the first wait short.
    const server = await burstWhileBusy(seen, 100, 1000, 'long', 60);
    // Stepping back all along, 60 rounds would take minutes; after a second behind the plugin no longer waits.
    await until(() => seen.length, (n) => n === 60, 20_000);
    expect(await steppedBackSeconds(server)).toBeGreaterThan(0);
    expect(await steppedBackSeconds(server)).toBeLessThan(3);
  }, 40_000);

  it('a wait ends as soon as the requests stop, not when the time owed runs out', async () => {
    const seen: string[] = [];
    // 150 ms a change at a share of 0.02 owes about 7 s of waiting after each one.
    await burstWhileBusy(seen, 150, 60_000, 'owed', 10);
    await until(() => seen.length, (n) => n >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 800)); // well into the wait
    const waiting = seen.length;
    void load!.stop();
    const stopped = Date.now();
    await until(() => seen.length, (n) => n > waiting, 10_000, 20);
    expect(Date.now() - stopped).toBeLessThan(3000);
  }, 40_000);

  it('without requests in flight a backlog is delivered at full speed: no step back', async () => {
    const seen: string[] = [];
    env = await createTestEnvironment({ plugins: [slowPlugin(seen), slowQueries()], delivery: { pollMs: 100, stepBackShare: 0.02 } });
    expect((await env.post('/v1/batch', batch('calm', 150))).status).toBe(200);
    await until(() => seen.length, (n) => n === 150, 20_000);
    expect(await steppedBackSeconds(env)).toBe(0);
  }, 40_000);

  it('a request whose connection goes before its answer is no longer in flight (pipelined ones included)', async () => {
    env = await createTestEnvironment({ plugins: [slowQueries()] });
    const { hostname, port } = new URL(env.url);
    const body = JSON.stringify({ query: '{ slowAnswer(ms: 400) }' });
    const request = `POST /graphql HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${env.keys.admin}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    // Two requests on one connection: the second one's answer waits behind the first; the connection goes meanwhile.
    const socket = net.connect(Number(port), hostname, () => socket.write(request + request));
    socket.on('error', () => undefined);
    await until(() => env!.server.core.requestLoad.active, (n) => n === 2, 5_000, 10);
    socket.destroy();
    await until(() => env!.server.core.requestLoad.active, (n) => n === 0, 5_000, 20);
  });

  it('refuses a share out of range at start, naming the key', async () => {
    await expect(createTestEnvironment({ delivery: { stepBackShare: 0 } })).rejects.toThrow(/delivery\.stepBackShare/);
  });
});
