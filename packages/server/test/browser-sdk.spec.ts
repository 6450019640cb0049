import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { launchChromium } from './support/chromium';
import { until } from './support/until';

/**
 * The Segment browser SDK (`@segment/analytics-next`, the real UMD bundles) in headless Chromium,
 * on a page from another origin, sending to Rapport. Everything it sends is read back over GraphQL.
 */
const SDK_DIR = path.join(path.dirname(require.resolve('@segment/analytics-next/package.json')), 'dist', 'umd');

let env: TestEnvironment;
let rapport: string;
let pages: http.Server;
let pageOrigin: string;
let browser: Browser | undefined;

/** A second HTTP server (another origin: `localhost`, another port) serving a test page and the SDK's UMD bundle. */
function startPageServer(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/sdk/index.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      return res.end(fs.readFileSync(path.join(SDK_DIR, 'index.js')));
    }
    if (url.pathname === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(url.searchParams.get('html') ?? '');
    }
    if (url.pathname === '/favicon.ico') return res.writeHead(204).end();
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  env = await createTestEnvironment();
  rapport = env.url;
  pages = await startPageServer();
  pageOrigin = `http://localhost:${(pages.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => pages?.close(r));
  await env?.close();
});

/** Every request a page makes, with its answer's status (0 when it failed). */
interface Seen { method: string; url: string; status: number; body: string | null }

/** Opens `html` (served from the page origin) in a fresh browser context, recording every request. */
async function open(html: string): Promise<{ page: Page; seen: Seen[]; errors: string[] }> {
  browser ??= await launchChromium();
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen: Seen[] = [];
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('requestfinished', async (r) => seen.push({ method: r.method(), url: r.url(), status: (await r.response())?.status() ?? 0, body: r.postData() }));
  page.on('requestfailed', (r) => seen.push({ method: r.method(), url: r.url(), status: 0, body: r.postData() }));
  await page.goto(`${pageOrigin}/page.html?html=${encodeURIComponent(html)}`);
  return { page, seen, errors };
}

const PROFILE = `query($type: String!, $v: String!) { profileByIdentity(type: $type, value: $v) {
  traits identities { type value } events(first: 50) { nodes { type name properties context anonymousId userId } } } }`;
async function profile(type: string, value: string) {
  const r = await env.graphql(PROFILE, { type, v: value });
  expect(r.body.errors).toBeUndefined();
  return r.body.data.profileByIdentity as null | { traits: Record<string, unknown>; identities: Array<{ type: string; value: string }>; events: { nodes: Array<{ type: string; name: string | null; properties: Record<string, unknown>; context: Record<string, any>; anonymousId: string | null; userId: string | null }> } };
}

/** No request left for Segment's hosts (or anywhere but the page's origin and Rapport). */
function expectSelfHosted(seen: Seen[]) {
  const elsewhere = seen.filter((s) => !s.url.startsWith(`${pageOrigin}/`) && !s.url.startsWith(`${rapport}/`));
  expect(elsewhere).toEqual([]);
}

describe('@segment/analytics-next in Chromium, cdnURL pointing at Rapport', () => {
  it('loads settings from Rapport and sends page, identify and track there, one request each', async () => {
    const { page, seen, errors } = await open('<!doctype html><title>shop</title><script src="/sdk/index.js"></script>');
    const result = await page.evaluate(async ({ writeKey, cdnURL }) => {
      const w = window as unknown as { AnalyticsNext: { AnalyticsBrowser: any } };
      const [analytics] = await w.AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL });
      const anonymousId = analytics.user().anonymousId();
      await analytics.page('Docs', 'Install', { section: 'browser' });
      await analytics.identify('browser-user-1', { email: 'Browser.User@Example.com', plan: 'pro' });
      await analytics.track('Signed Up', { plan: 'pro', seats: 3 });
      return { anonymousId };
    }, { writeKey: env.keys.ingest, cdnURL: rapport });
    expect(errors).toEqual([]);

    const settings = seen.find((s) => s.url === `${rapport}/v1/projects/${env.keys.ingest}/settings`);
    expect(settings).toMatchObject({ method: 'GET', status: 200 });
    // The page reports a finished request a moment after the SDK's promise settles.
    await until(() => seen.filter((s) => s.method === 'POST').length, (n) => n >= 3);
    const posts = seen.filter((s) => s.method === 'POST').map((s) => [s.url.slice(rapport.length), s.status]);
    expect(posts).toEqual([['/v1/p', 200], ['/v1/i', 200], ['/v1/t', 200]]);
    expectSelfHosted(seen);

    // The page view came before identify: the anonymous id stitches it to the same person.
    const p = await profile('user_id', 'browser-user-1');
    expect(p).not.toBeNull();
    expect(p!.traits).toMatchObject({ email: 'Browser.User@Example.com', plan: 'pro' });
    expect(p!.identities).toEqual(expect.arrayContaining([
      { type: 'user_id', value: 'browser-user-1' }, { type: 'email', value: 'browser.user@example.com' }, { type: 'anonymous_id', value: result.anonymousId },
    ]));
    const byType = Object.fromEntries(p!.events.nodes.map((e) => [e.type, e]));
    expect(Object.keys(byType).sort()).toEqual(['identify', 'page', 'track']);
    expect(byType.page).toMatchObject({ name: 'Install', anonymousId: result.anonymousId, userId: null });
    expect(byType.page.properties).toMatchObject({ category: 'Docs', section: 'browser', url: expect.stringContaining(`${pageOrigin}/page.html`) });
    expect(byType.track).toMatchObject({ name: 'Signed Up', userId: 'browser-user-1', properties: { plan: 'pro', seats: 3 } });
    expect(byType.track.context.library).toEqual({ name: 'analytics.js', version: expect.stringMatching(/^next-1\./) });
    expect(byType.track.context.page.url).toContain(pageOrigin);
    await page.context().close();
  });

  it('delivers a burst in batches to /v1/b: the first when it is full, the rest when the timeout passes', async () => {
    const SIZE = 4;
    const { page, seen, errors } = await open('<!doctype html><title>burst</title><script src="/sdk/index.js"></script>');
    const anonymousId = await page.evaluate(async ({ writeKey, cdnURL, size }) => {
      const w = window as unknown as { AnalyticsNext: { AnalyticsBrowser: any } };
      const [analytics] = await w.AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL }, {
        // The SDK sends a batch when `size` messages wait and no batch is in flight, else after `timeout` ms.
        integrations: { 'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size, timeout: 2_000 } } } },
      });
      for (let i = 0; i < size * 3; i++) void analytics.track('Burst', { i });
      return analytics.user().anonymousId() as string;
    }, { writeKey: env.keys.ingest, cdnURL: rapport, size: SIZE });

    const stored = await until(async () => (await profile('anonymous_id', anonymousId))?.events.nodes ?? [], (n) => n.length >= SIZE * 3);
    expect(stored.map((e) => e.properties.i).sort((a, b) => Number(a) - Number(b))).toEqual([...Array(SIZE * 3).keys()]);
    const batched = () => seen.filter((s) => s.method === 'POST').reduce((n, s) => n + (JSON.parse(s.body!).batch?.length ?? 1), 0);
    await until(batched, (n) => n >= SIZE * 3);
    const posts = seen.filter((s) => s.method === 'POST');
    for (const post of posts) expect([post.url, post.status]).toEqual([`${rapport}/v1/b`, 200]);
    const sizes = posts.map((s) => JSON.parse(s.body!).batch.length as number);
    expect(sizes[0]).toBe(SIZE);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(SIZE * 3);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.length).toBeLessThan(SIZE * 3);
    expect(errors).toEqual([]);
    expectSelfHosted(seen);
    await page.context().close();
  });

  it('works from the Segment snippet with the standalone bundle and its lazy chunks served by Rapport', async () => {
    // The snippet's buffer, reduced to what this test calls; `_cdn` is how Segment documents a custom CDN host.
    const html = `<!doctype html><title>snippet</title><a id="docs" href="#done">Docs</a><script>
      var analytics = window.analytics = [];
      ['track', 'page', 'identify', 'trackLink'].forEach(function (m) { analytics[m] = function () { analytics.push([m].concat([].slice.call(arguments))); return analytics; }; });
      analytics._writeKey = ${JSON.stringify(env.keys.ingest)};
      analytics._cdn = ${JSON.stringify(rapport)};
      analytics.track('Snippet Loaded', { via: 'snippet' });
    </script><script src="${rapport}/analytics.js/v1/${env.keys.ingest}/analytics.min.js"></script>`;
    const { page, seen, errors } = await open(html);
    await page.waitForFunction(() => (window as unknown as { analytics: { initialized?: boolean } }).analytics.initialized === true);
    const anonymousId = await page.evaluate(async () => {
      const a = (window as unknown as { analytics: any }).analytics;
      // trackLink's code is a lazy chunk: it comes from <_cdn>/analytics-next/bundles/.
      await a.trackLink(document.getElementById('docs'), 'Clicked Docs');
      return a.user().anonymousId() as string;
    });
    await page.click('#docs');

    const events = await until(async () => (await profile('anonymous_id', anonymousId))?.events.nodes ?? [], (n) => n.length >= 2);
    expect(events.map((e) => e.name).sort()).toEqual(['Clicked Docs', 'Snippet Loaded']);
    const chunk = seen.find((s) => s.url.startsWith(`${rapport}/analytics-next/bundles/auto-track.bundle.`));
    expect(chunk).toMatchObject({ method: 'GET', status: 200 });
    expect(seen.find((s) => s.url === `${rapport}/analytics.js/v1/${env.keys.ingest}/analytics.min.js`)).toMatchObject({ status: 200 });
    expect(errors).toEqual([]);
    expectSelfHosted(seen);
    await page.context().close();
  });
});

describe('GET /v1/projects/:writeKey/settings over HTTP', () => {
  it('points the Segment.io integration at this server, with CORS for any origin and no telemetry to Segment', async () => {
    const res = await fetch(`${rapport}/v1/projects/${env.keys.ingest}/settings`, { headers: { origin: 'https://shop.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(res.headers.get('cache-control')).toBe('private, max-age=60');
    const body = await res.json();
    expect(body.integrations).toEqual({
      'Segment.io': {
        apiKey: env.keys.ingest, apiHost: `${new URL(rapport).host}/v1`, protocol: 'http',
        addBundledMetadata: false, unbundledIntegrations: [], maybeBundledConfigIds: {},
      },
    });
    expect(body.metrics).toEqual({ sampleRate: 0 });
    expect(body.remotePlugins).toEqual([]);
  });

  it('answers an unknown, a revoked or a read-only key exactly as an unknown route', async () => {
    const revoked = await env.server.core.services.keys.create({ name: 'revoked-browser', roles: ['ingest'] });
    expect((await fetch(`${rapport}/v1/projects/${revoked.key}/settings`)).status).toBe(200);
    await env.server.core.services.keys.revoke(revoked.record.id);
    const notFound = async (p: string) => {
      const r = await fetch(`${rapport}${p}`);
      return { status: r.status, type: r.headers.get('content-type'), body: (await r.text()).replaceAll(p, '<path>') };
    };
    const unknownRoute = await notFound('/v1/projects/rk_unknown/nothing-here');
    expect(unknownRoute.status).toBe(404);
    for (const key of ['rk_doesnotexist00000000000000000000', revoked.key, env.keys.app]) {
      expect(await notFound(`/v1/projects/${key}/settings`)).toEqual(unknownRoute);
      expect(await notFound(`/analytics.js/v1/${key}/analytics.min.js`)).toEqual(unknownRoute);
    }
  });

  it('counts a path write key that is not valid as a failed authentication, as the other tracking routes do', async () => {
    const strict = await env.addServer({ api: { authFailuresPerMinute: 2 } });
    try {
      const settings = (key: string) => fetch(`${strict.url}/v1/projects/${key}/settings`).then((r) => r.status);
      expect(await settings('rk_guess1')).toBe(404);
      expect(await settings('rk_guess2')).toBe(404);
      expect(await settings('rk_guess3')).toBe(429);
      // The address is blocked before any key lookup, valid keys not yet seen here included, as for 401s.
      expect(await settings(env.keys.ingest)).toBe(429);
    } finally {
      await strict.close();
    }
  });

  it('serves the SDK bundles compressed, and 404 for files that are not in the package', async () => {
    const raw = fs.readFileSync(path.join(SDK_DIR, 'standalone.js'));
    const res = await rawGet(`/analytics.js/v1/${env.keys.ingest}/analytics.min.js`, { 'accept-encoding': 'gzip', origin: 'https://shop.example' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.headers.vary).toMatch(/origin/i);
    expect(zlib.gunzipSync(res.body).equals(raw)).toBe(true);
    expect(res.body.length).toBeLessThan(raw.length / 2);
    expect((await rawGet('/analytics-next/bundles/..%2Fpackage.json', {})).status).toBe(404);
    expect((await rawGet('/analytics-next/bundles/nope.js', {})).status).toBe(404);
  });
});

/** A GET that does not decode the body (fetch would). */
function rawGet(p: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(`${rapport}${p}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('the settings behind a proxy', () => {
  let proxied: TestEnvironment;
  afterAll(async () => proxied?.close());

  it('takes scheme and host from X-Forwarded-* only when the server trusts its proxy', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'cdp.shop.example' };
    const direct = await (await fetch(`${rapport}/v1/projects/${env.keys.ingest}/settings`, { headers: forwarded })).json();
    expect(direct.integrations['Segment.io']).toMatchObject({ apiHost: `${new URL(rapport).host}/v1`, protocol: 'http' });

    process.env.RAPPORT_TRUST_PROXY = '1';
    try {
      proxied = await env.addServer();
    } finally {
      delete process.env.RAPPORT_TRUST_PROXY;
    }
    const behind = await (await fetch(`${proxied.url}/v1/projects/${env.keys.ingest}/settings`, { headers: forwarded })).json();
    expect(behind.integrations['Segment.io']).toMatchObject({ apiHost: 'cdp.shop.example/v1', protocol: 'https' });
    const bad = await fetch(`${proxied.url}/v1/projects/${env.keys.ingest}/settings`, { headers: { ...forwarded, 'x-forwarded-host': 'evil.example/path' } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ field: 'x-forwarded-host', rule: 'host' });
  });
});
