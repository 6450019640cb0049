import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment();
  if (!fs.existsSync(path.join(ROOT, 'packages/server/dist/cli/rapport.cli.js'))) {
    await run('npx', ['tsc', '-b'], { cwd: ROOT });
  }
});
afterAll(async () => env?.close());

describe('API keys', () => {
  it('an admin creates a key over GraphQL; its secret is shown once and stored only as a hash', async () => {
    const r = await env.graphql(`mutation { createApiKey(input: { name: "storefront", roles: ["app"] }) { key apiKey { id name prefix roles } } }`);
    expect(r.body.errors).toBeUndefined();
    const { key, apiKey } = r.body.data.createApiKey;
    expect(key).toMatch(/^rk_[A-Za-z0-9_-]{32}$/);
    expect(apiKey).toMatchObject({ name: 'storefront', roles: ['app'], prefix: key.slice(0, 10) });
    const rows = await env.sql('SELECT * FROM rapport_api_key');
    expect(JSON.stringify(rows)).not.toContain(key);
    expect(rows.find((k) => k.id === apiKey.id).key_hash).toMatch(/^[0-9a-f]{64}$/);
    const list = await env.graphql(`{ apiKeys { id name } }`);
    expect(JSON.stringify(list.body)).not.toContain(key);
    const read = await env.graphql(`{ profiles(first: 1) { nodes { id } } }`, {}, { key });
    expect(read.body.errors).toBeUndefined();
  });

  it('an ingest key writes events but reads nothing', async () => {
    const w = await env.graphql(`mutation { track(input: { userId: "ingest-only", event: "Clicked" }) { messageId duplicate profileId } }`, {}, { key: env.keys.ingest });
    expect(w.body.errors).toBeUndefined();
    expect(w.body.data.track).toMatchObject({ duplicate: false, profileId: null });
    for (const q of [`{ profiles(first: 1) { nodes { id } } }`, `{ profileByIdentity(type: "user_id", value: "ingest-only") { id } }`, `{ apiKeys { id } }`]) {
      const r = await env.graphql(q, {}, { key: env.keys.ingest });
      expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN');
      expect(r.body.errors[0].message).toMatch(/needs the "(profiles:read|keys:manage)" permission, which roles \[ingest\] do not grant/);
    }
  });

  it('an app key reads profiles but cannot manage keys; roles must exist', async () => {
    const r = await env.graphql(`mutation { createApiKey(input: { roles: ["admin"] }) { key } }`, {}, { key: env.keys.app });
    expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const bad = await env.graphql(`mutation { createApiKey(input: { roles: ["superuser"] }) { key } }`);
    expect(bad.body.errors[0]).toMatchObject({ extensions: { code: 'VALIDATION_FAILED', field: 'roles[0]', rule: 'enum' } });
    expect(bad.body.errors[0].message).toContain('"superuser" is not a role; roles are admin, app, ingest');
  });

  it('a revoked key gets 401 at once', async () => {
    const c = await env.graphql(`mutation { createApiKey(input: { roles: ["app"] }) { key apiKey { id } } }`);
    const { key, apiKey } = c.body.data.createApiKey;
    expect((await env.graphql(`{ health { status } }`, {}, { key })).status).toBe(200);
    await env.graphql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: apiKey.id });
    const after = await env.graphql(`{ health { status } }`, {}, { key });
    expect(after.status).toBe(401);
    expect(after.body.errors[0].message).toContain('unknown or was revoked');
  });

  it('`rapport keys create --role app` prints the new key alone on stdout', async () => {
    const cli = path.join(ROOT, 'packages/server/bin/rapport.js');
    const envVars = { ...process.env, DATABASE_URL: env.database.url, LOG_LEVEL: 'warn' };
    const { stdout, stderr } = await run('node', [cli, 'keys', 'create', '--role', 'app', '--name', 'cli-made'], { cwd: ROOT, env: envVars });
    expect(stdout).toMatch(/^rk_[A-Za-z0-9_-]{32}\n$/);
    expect(stderr).toContain('with roles app');
    const key = stdout.trim();
    const r = await env.graphql(`{ profiles(first: 1) { nodes { id } } }`, {}, { key });
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
    const bad = await run('node', [cli, 'keys', 'create'], { cwd: ROOT, env: envVars }).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toContain('--role is required');
  });

  it('CLI commands print human lines only, as in a user\'s shell (no JSON log lines)', async () => {
    const cli = path.join(ROOT, 'packages/server/bin/rapport.js');
    const { VITEST: _v, VITEST_WORKER_ID: _w, VITEST_POOL_ID: _p, LOG_LEVEL: _l, ...shell } = process.env;
    const envVars = { ...shell, DATABASE_URL: env.database.url };
    const jsonLines = (text: string) => text.split('\n').filter((l) => l.trim().startsWith('{'));
    const migrate = await run('node', [cli, 'migrate'], { cwd: ROOT, env: envVars });
    expect(migrate.stderr).toMatch(/^(no pending migrations|applied: .+)$/m);
    expect(jsonLines(migrate.stderr)).toEqual([]);
    expect(migrate.stdout).toBe('');
    const created = await run('node', [cli, 'keys', 'create', '--role', 'ingest'], { cwd: ROOT, env: envVars });
    expect(created.stdout).toMatch(/^rk_[A-Za-z0-9_-]{32}\n$/);
    expect(jsonLines(created.stderr)).toEqual([]);
  });
});

describe('GraphQL ingestion mutations', () => {
  it('identify, track, page, screen, group and alias write like the HTTP API', async () => {
    const m = await env.graphql(`mutation {
      i: identify(input: { userId: "gql-u", traits: { email: "Gql@Example.com", plan: "pro" } }) { messageId profileId }
      t: track(input: { anonymousId: "gql-anon", event: "Added to Cart", properties: { sku: "A1" } }) { messageId }
      p: page(input: { userId: "gql-u", name: "Home" }) { messageId }
      s: screen(input: { userId: "gql-u", name: "Feed" }) { messageId }
      g: group(input: { userId: "gql-u", groupId: "acme" }) { messageId }
      a: alias(input: { userId: "gql-u", previousId: "gql-anon" }) { messageId profileId }
    }`);
    expect(m.body.errors).toBeUndefined();
    expect(m.body.data.a.profileId).toBe(m.body.data.i.profileId);
    const p = await env.graphql(`{ profileByIdentity(type: "email", value: "gql@example.com") { traits events(first: 10) { nodes { type name } } } }`);
    expect(p.body.data.profileByIdentity.traits).toEqual({ email: 'Gql@Example.com', plan: 'pro' });
    expect(p.body.data.profileByIdentity.events.nodes).toHaveLength(6);
  });

  it('bad input to a mutation is an error naming the input field and rule; nothing is written', async () => {
    const r = await env.graphql(`mutation { identify(input: { userId: "gql-bad", traits: { email: "nope" } }) { messageId } }`);
    expect(r.body.errors[0]).toMatchObject({ message: 'input.traits.email: "nope" is not an email address', extensions: { field: 'input.traits.email', rule: 'email' } });
    const none = await env.graphql(`mutation { track(input: { event: "Nobody" }) { messageId } }`);
    expect(none.body.errors[0].extensions).toMatchObject({ field: 'input.userId', rule: 'required' });
    expect((await env.graphql(`{ profileByIdentity(type: "user_id", value: "gql-bad") { id } }`)).body.data.profileByIdentity).toBeNull();
  });
});

describe('GraphiQL', () => {
  it('is served at /graphql to browsers, with every asset from this server (no network)', async () => {
    const page = await fetch(`${env.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('GraphiQL');
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs.length).toBe(4);
    for (const src of srcs) {
      expect(src.startsWith('/')).toBe(true); // same origin: nothing from a CDN
      const res = await fetch(`${env.url}${src}`);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
  });
});
