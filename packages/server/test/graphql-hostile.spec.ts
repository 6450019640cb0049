import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

// Hostile GraphQL documents (issue 11, defects 4, 5, 9 and part of 10): each is refused with a
// 4xx that names the rule and its limit, and the server keeps answering.
let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ api: { maxComplexity: 300 } });
});
afterAll(async () => env?.close());

/** A GraphQL GET, as a browser or a CDN-cached client sends it. */
async function graphqlGet(query: string, key: string, variables?: Record<string, unknown>) {
  const params = new URLSearchParams({ query, ...(variables ? { variables: JSON.stringify(variables) } : {}) });
  const res = await fetch(`${env.url}/graphql?${params}`, {
    headers: { authorization: `Bearer ${key}`, accept: 'application/json', 'apollo-require-preflight': 'true' },
  });
  return { status: res.status, body: await res.json() };
}

/** 25 fragments, each spreading the next twice: about 1 KB, 2^24 leaf fields once expanded. */
function fragmentBomb(levels = 25): string {
  let doc = '{ health { ...F0 } }\n';
  for (let i = 0; i < levels; i++) doc += `fragment F${i} on Health { ${i < levels - 1 ? `...F${i + 1} ...F${i + 1}` : 'status'} }\n`;
  return doc;
}

async function healthy() {
  const res = await fetch(`${env.url}/health`);
  return res.status;
}

describe('document limits', () => {
  it('a fragment bomb gets HTTP 400 naming the selection limit, and the server still answers /health', async () => {
    const bomb = fragmentBomb();
    expect(bomb.length).toBeLessThan(1100);
    for (const key of [env.keys.ingest, env.keys.admin]) {
      const r = await env.graphql(bomb, {}, { key });
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxSelections', limit: 1000 });
      expect(r.body.errors[0].message).toMatch(/^query has \d+ selections \(fragments counted at each spread\), over the limit of 1000/);
    }
    const get = await graphqlGet(bomb, env.keys.app);
    expect(get.status).toBe(400);
    expect(get.body.errors[0].extensions.rule).toBe('maxSelections');
    expect(await healthy()).toBe(200);
  });

  it('a fragment that is also spread inside itself is refused without looping', async () => {
    const r = await env.graphql(`{ health { ...A } } fragment A on Health { status ...B } fragment B on Health { ...A }`);
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(/Cannot spread fragment "A" within itself/);
  });

  it('nesting 1,000 levels deep gets HTTP 400 naming the depth limit', async () => {
    const r = await env.graphql(`{ ${'health { '.repeat(1000)} status ${'} '.repeat(1000)} }`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxDepth', limit: 10 });
    // the other rules were skipped: none reports that Health has no field "health"
    expect(r.body.errors).toHaveLength(1);
    expect(await healthy()).toBe(200);
  });

  it('a document over the token limit gets HTTP 400 naming the limit', async () => {
    const r = await env.graphql(`{ ${'__typename '.repeat(10_001)} }`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED', rule: 'maxTokens', limit: 10_000 });
    expect(r.body.errors[0].message).toBe('the document has more than 10000 tokens, the limit: send a shorter query');
  });

  it('too many aliases, directives or repeats of one field get HTTP 400 naming the rule and limit', async () => {
    const aliases = await env.graphql(`{ ${Array.from({ length: 101 }, (_, i) => `a${i}: health { status }`).join(' ')} }`);
    expect(aliases.status).toBe(400);
    expect(aliases.body.errors[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', rule: 'maxAliases', limit: 100 });
    expect(aliases.body.errors[0].message).toMatch(/^query has 101 aliases, over the limit of 100/);

    const directives = await env.graphql(`{ health { ${'status @include(if: true) '.repeat(51)} } }`);
    expect(directives.status).toBe(400);
    expect(directives.body.errors[0].extensions).toMatchObject({ rule: 'maxDirectives', limit: 50 });
    expect(directives.body.errors[0].message).toMatch(/^query has 51 directives, over the limit of 50/);

    // The same response name many times in one selection (inline fragments merge into it) costs
    // validation time quadratic in the repeats.
    const repeats = await env.graphql(`{ ${'... on Query { health { status } } '.repeat(21)} }`);
    expect(repeats.status).toBe(400);
    expect(repeats.body.errors[0].extensions).toMatchObject({ rule: 'maxFieldRepeats', limit: 20 });
    expect(repeats.body.errors[0].message).toMatch(/^field "health" is selected 21 times in one selection set, over the limit of 20/);

    const fine = await env.graphql(`{ ${Array.from({ length: 100 }, (_, i) => `a${i}: __typename`).join(' ')} health { status status } }`);
    expect(fine.status).toBe(200);
    expect(fine.body.data.health.status).toBe('ok');
  });
});

describe('complexity', () => {
  const expensive = (directive: string) =>
    `query($b: Boolean!) { health { status } profiles(first: 100) ${directive} { nodes { id identities { value } events(first: 10) { nodes { id name } } } } }`;

  it('a boolean variable gating an expensive branch is priced with its value, whichever variant comes first', async () => {
    const include = expensive('@include(if: $b)');
    expect((await env.graphql(include, { b: false })).status).toBe(200);
    const r = await env.graphql(include, { b: true });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', rule: 'maxComplexity', limit: 300 });

    const skip = expensive('@skip(if: $b)');
    expect((await env.graphql(skip, { b: false })).status).toBe(400);
    const cheap = await env.graphql(skip, { b: true });
    expect(cheap.status).toBe(200);
    expect(cheap.body.data).toEqual({ health: { status: 'ok' } });
  });

  it('a default value is priced like the value it stands for', async () => {
    const q = `query($b: Boolean = false, $n: Int = 1) { profiles(first: $n) @include(if: $b) { nodes { id events(first: 10) { nodes { id } } } } }`;
    expect((await env.graphql(q)).status).toBe(200);
    expect((await env.graphql(q, { b: true })).status).toBe(200);
    expect((await env.graphql(q, { b: true, n: 100 })).status).toBe(400);
    expect((await env.graphql(q, { n: 100 })).status).toBe(200);
  });
});

describe('variables', () => {
  const paged = `query($n: Int!) { profiles(first: $n) { nodes { id } } }`;

  it.each([
    ['3.5', 3.5, 'Int cannot represent non-integer value: 3.5'],
    ['null', null, 'Variable "$n" of non-null type "Int!" must not be null.'],
    ['"x"', 'x', 'Int cannot represent non-integer value: "x"'],
    ['2^31', 2 ** 31, 'Int cannot represent non 32-bit signed integer value: 2147483648'],
  ])('an Int! given %s gets HTTP 400 BAD_USER_INPUT naming the variable', async (_label, n, detail) => {
    const r = await env.graphql(paged, { n });
    expect(r.status).toBe(400);
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors[0].message).toContain('Variable "$n"');
    expect(r.body.errors[0].message).toContain(detail);
  });

  it('a missing required variable gets HTTP 400 BAD_USER_INPUT naming it, by POST and by GET', async () => {
    const q = `query($id: ID!) { profile(id: $id) { id } }`;
    const r = await env.graphql(q, {});
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({ message: 'Variable "$id" of required type "ID!" was not provided.', extensions: { code: 'BAD_USER_INPUT' } });
    const get = await graphqlGet(paged, env.keys.app, { n: 'x' });
    expect(get.status).toBe(400);
    expect(get.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a subscription (the schema has none) is a 400 naming the operation type, not an internal error', async () => {
    const r = await env.graphql(`subscription { health { status } }`);
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toMatchObject({
      message: 'this API has no subscription operations: send a query or a mutation',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', rule: 'operationType' },
    });
  });

  it('an unknown operation name is a 400, not a 500', async () => {
    const res = await fetch(`${env.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.keys.admin}` },
      body: JSON.stringify({ query: `{ health { status } }`, operationName: 'Nope' }),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].message).toBe('Unknown operation named "Nope".');
  });
});

describe('introspection', () => {
  const schemaQuery = `{ __schema { queryType { name } } }`;

  it('an ingest key gets HTTP 403 for __schema and __type, naming the permission', async () => {
    for (const q of [schemaQuery, `{ __type(name: "Profile") { name } }`, `query { ...F } fragment F on Query { __schema { types { name } } }`]) {
      const r = await env.graphql(q, {}, { key: env.keys.ingest });
      expect(r.status).toBe(403);
      expect(r.body.errors[0]).toMatchObject({
        message: 'introspection (__schema, __type) needs the "profiles:read" permission, which roles [ingest] do not grant',
        extensions: { code: 'FORBIDDEN', rule: 'introspection' },
      });
      expect(r.body.data).toBeUndefined();
    }
    expect((await graphqlGet(schemaQuery, env.keys.ingest)).status).toBe(403);
  });

  it('__typename still works for an ingest key; app and admin keys may introspect', async () => {
    const typename = await env.graphql(`{ __typename }`, {}, { key: env.keys.ingest });
    expect(typename.status).toBe(200);
    expect(typename.body.data).toEqual({ __typename: 'Query' });
    for (const key of [env.keys.app, env.keys.admin]) {
      const r = await env.graphql(schemaQuery, {}, { key });
      expect(r.status).toBe(200);
      expect(r.body.data.__schema.queryType.name).toBe('Query');
    }
  });
});

describe('arguments the database cannot use', () => {
  it('a trait filter nested 3,000 levels deep is a validation error naming the rule', async () => {
    let traits: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 3000; i++) traits = { a: traits };
    const r = await env.graphql(`query($f: ProfileFilter) { profiles(first: 1, filter: $f) { nodes { id } } }`, { f: { traits } });
    expect(r.status).toBeLessThan(500);
    expect(r.body.errors[0]).toMatchObject({ message: 'filter.traits: nests deeper than 64 levels', extensions: { code: 'VALIDATION_FAILED', rule: 'maxDepth' } });
    let ok: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 10; i++) ok = { a: ok };
    const fine = await env.graphql(`query($f: ProfileFilter) { profiles(first: 1, filter: $f) { nodes { id } } }`, { f: { traits: ok } });
    expect(fine.body.errors).toBeUndefined();
  });

  it('answer BAD_USER_INPUT naming the field, never an internal error', async () => {
    const cases = [
      { q: `{ auditLog(profileId: "not-a-uuid") { at } }`, field: 'auditLog' },
      { q: `query($v: String!) { profileByIdentity(type: "email", value: $v) { id } }`, vars: { v: 'a\u0000b@example.com' }, field: 'profileByIdentity' },
    ];
    for (const c of cases) {
      const r = await env.graphql(c.q, c.vars ?? {});
      expect(r.status).toBeLessThan(500);
      expect(r.body.errors?.[0]?.extensions?.code, JSON.stringify(r.body)).toBe('BAD_USER_INPUT');
      expect(r.body.errors[0].path).toEqual([c.field]);
      expect(r.body.errors[0].message).toMatch(/^an argument of .+ holds a value the database cannot store or compare/);
    }
  });
});

it('an unknown field gets no suggestions that would show the schema to a key that may not introspect', async () => {
  const r = await env.graphql(`{ profilez { id } }`, {}, { key: env.keys.ingest });
  expect(r.status).toBe(400);
  expect(r.body.errors[0].message).toBe('Cannot query field "profilez" on type "Query".');
});
