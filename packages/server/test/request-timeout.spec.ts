import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ api: { requestTimeoutMs: 2000 } });
});
afterAll(async () => env?.close());

/**
 * Opens a connection, sends a request's headers announcing `length` bytes of body, then one byte
 * every `everyMs`: a slow-loris body. Resolves with what the server answered and when it closed
 * the connection, or `closed: false` when it was still open after `giveUpMs`.
 */
function trickle(length: number, everyMs: number, giveUpMs: number): Promise<{ closed: boolean; answer: string; ms: number }> {
  const { hostname, port } = new URL(env.url);
  return new Promise((resolve) => {
    const t0 = Date.now();
    let answer = '';
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(
        `POST /v1/track HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${env.keys.ingest}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
      );
    });
    const drip = setInterval(() => socket.writable && socket.write(' '), everyMs);
    const done = (closed: boolean) => {
      clearInterval(drip);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closed, answer, ms: Date.now() - t0 });
    };
    const giveUp = setTimeout(() => done(false), giveUpMs);
    socket.on('data', (d) => (answer += d.toString('utf8')));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}

describe('slow request bodies', () => {
  it('a body trickling in is cut off at the request timeout (408), not held open', async () => {
    const r = await trickle(5000, 300, 15_000);
    expect(r.closed).toBe(true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
  }, 20_000);

  it('ordinary requests are unaffected', async () => {
    expect((await env.post('/v1/track', { userId: 'rt-user', event: 'Quick' })).status).toBe(200);
  });
});
