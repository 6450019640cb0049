import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ api: { maxDepth: 5, maxComplexity: 300, rateLimitPerMinute: 40 } });
});
afterAll(async () => env?.close());

describe('query limits', () => {
  it('a query over the depth limit gets HTTP 400 that names depth and limit (fragments are followed)', async () => {
    const ok = await env.graphql(`{ profiles(first: 1) { nodes { events(first: 1) { nodes { id } } } } }`);
    expect(ok.status).toBe(200);
    const deep = await env.graphql(`fragment N on Event { id } { profiles(first: 1) { edges { node { events(first: 1) { edges { node { ...N } } } } } } }`);
    expect(deep.status).toBe(400);
    expect(deep.body.errors[0].message).toBe('query depth 7 is over the limit of 5: ask for fewer nested levels');
    expect(deep.body.errors[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxDepth', limit: 5 });
  });

  it('a query over the complexity limit gets HTTP 400, priced with variables', async () => {
    const q = `query($n: Int!) { profiles(first: $n) { nodes { id identities { value } events(first: 10) { nodes { id name } } } } }`;
    expect((await env.graphql(q, { n: 2 })).status).toBe(200);
    const r = await env.graphql(q, { n: 100 });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', rule: 'maxComplexity', limit: 300 });
    expect(r.body.errors[0].message).toMatch(/^query complexity \d+ is over the limit of 300/);
  });

  it('GraphQL without a key: 401 in GraphQL shape', async () => {
    const r = await env.graphql(`{ health { status } }`, {}, { key: null });
    expect(r.status).toBe(401);
    expect(r.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('over the rate limit: 429 with Retry-After, per key', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) statuses.push((await env.graphql(`{ health { status } }`, {}, { key: env.keys.app })).status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(40);
    expect(statuses.at(-1)).toBe(429);
    const r = await env.graphql(`{ health { status } }`, {}, { key: env.keys.app });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBeTruthy();
    expect(JSON.stringify(r.body)).toContain('rate limit of 40 requests per minute exceeded');
    // another key has its own budget
    expect((await env.graphql(`{ health { status } }`, {}, { key: env.keys.admin })).status).toBe(200);
  });
});
