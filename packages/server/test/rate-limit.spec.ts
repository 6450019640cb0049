import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// Every request of a test environment comes from 127.0.0.1, so each limit gets its own server.
const track = { userId: 'rl-user', event: 'Rate Probe' };

describe('failed authentications are limited per client address', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment({ api: { rateLimitPerMinute: 1000, authFailuresPerMinute: 5 } });
  });
  afterAll(async () => env?.close());

  it('bogus keys: 401 up to the limit, then 429 with Retry-After, without a database lookup each', async () => {
    expect((await env.post('/v1/track', track)).status).toBe(200); // the valid key, seen before the flood
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await env.post('/v1/track', track, { key: `rk_bogus_${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);

    const { result, statements } = await env.countSql(async () => {
      const out = [];
      for (let i = 5; i < 15; i++) out.push(await env.post('/v1/track', track, { key: `rk_bogus_${i}` }));
      return out;
    });
    for (const r of result) {
      expect(r.status).toBe(429);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.body.error.code).toBe('RATE_LIMITED');
    }
    expect(statements.filter((s) => s.includes('rapport_api_key'))).toEqual([]);
    // Keyless requests and GraphQL count as failures of the same address.
    expect((await env.post('/v1/track', track, { key: null })).status).toBe(429);
    expect((await env.graphql('{ health { status } }', undefined, { key: 'rk_bogus_gql' })).status).toBe(429);
  });

  it('a valid key already in use keeps working from that address; one not seen yet waits out the block', async () => {
    expect((await env.post('/v1/track', track)).status).toBe(200);
    expect((await env.post('/v1/track', track, { key: env.keys.admin })).status).toBe(429);
  });
});

describe('valid keys are limited per key; /health, /livez and /readyz are never limited', () => {
  let env: TestEnvironment;
  beforeAll(async () => {
    env = await createTestEnvironment({ api: { rateLimitPerMinute: 6, authFailuresPerMinute: 100 } });
  });
  afterAll(async () => env?.close());

  it.each(['/health', '/livez', '/readyz'])('%s is exempt', async (path) => {
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${env.url}${path}`).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
  });

  it('one key over its limit gets 429 with Retry-After; another key is not affected', async () => {
    const statuses: number[] = [];
    let last: Headers | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await env.post('/v1/track', track);
      statuses.push(r.status);
      last = r.headers;
    }
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    expect(Number(last!.get('retry-after'))).toBeGreaterThan(0);
    expect((await env.post('/v1/track', track, { key: env.keys.admin })).status).toBe(200);
  });
});
