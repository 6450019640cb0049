import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { launchChromium } from './support/chromium';
import { until } from './support/until';

/** The IDE at GET /graphql: a key prompt before GraphiQL, and its assets compressed. */
let env: TestEnvironment;
let browser: Browser | undefined;
beforeAll(async () => {
  env = await createTestEnvironment();
});
afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const pkgFile = (pkg: string, file: string) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
const FILES: Record<string, string> = {
  'graphiql.js': pkgFile('graphiql', 'graphiql.min.js'),
  'graphiql.css': pkgFile('graphiql', 'graphiql.min.css'),
  'react.js': pkgFile('react', 'umd/react.production.min.js'),
  'react-dom.js': pkgFile('react-dom', 'umd/react-dom.production.min.js'),
};

/** A GET that leaves the body as sent (fetch would decode it). */
function rawGet(p: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(`${env.url}${p}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function pageHtml(): Promise<string> {
  const res = await fetch(`${env.url}/graphql`, { headers: { accept: 'text/html' } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('the IDE page', () => {
  it('asks for the key in a form and carries no placeholder key', async () => {
    const html = await pageHtml();
    expect(html).toContain('<form id="key-form"');
    expect(html).toMatch(/<input id="api-key"[^>]*type="password"/);
    expect(html).not.toContain('Bearer <paste');
    expect(html).not.toContain('localStorage');
  });

  it('links each asset by a digest of its content', async () => {
    const html = await pageHtml();
    for (const name of Object.keys(FILES)) expect(html).toMatch(new RegExp(`/graphiql/${name.replace('.', '\\.')}\\?v=[A-Za-z0-9_-]{16}"`));
  });
});

describe('IDE assets over HTTP', () => {
  it('sends each asset brotli- or gzip-compressed by Accept-Encoding, decoding to the file itself', async () => {
    for (const [name, file] of Object.entries(FILES)) {
      const original = fs.readFileSync(file);
      const br = await rawGet(`/graphiql/${name}`, { 'accept-encoding': 'gzip, deflate, br' });
      expect(br.status).toBe(200);
      expect(br.headers['content-encoding']).toBe('br');
      expect(br.headers.vary).toMatch(/accept-encoding/i);
      expect(zlib.brotliDecompressSync(br.body).equals(original)).toBe(true);

      const gz = await rawGet(`/graphiql/${name}`, { 'accept-encoding': 'br;q=0, gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(zlib.gunzipSync(gz.body).equals(original)).toBe(true);

      const plain = await rawGet(`/graphiql/${name}`);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.equals(original)).toBe(true);
    }
    const js = await rawGet('/graphiql/graphiql.js', { 'accept-encoding': 'br' });
    // 978 KB as it is; about 284 KB in brotli.
    expect(js.body.length).toBeLessThan(fs.statSync(FILES['graphiql.js']).size * 0.35);
  });

  it('caches a versioned URL for good, and answers If-None-Match with 304', async () => {
    const html = await pageHtml();
    const versioned = html.match(/\/graphiql\/graphiql\.js\?v=[A-Za-z0-9_-]+/)![0];
    const a = await rawGet(versioned, { 'accept-encoding': 'br' });
    expect(a.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const b = await rawGet('/graphiql/graphiql.js?v=old', { 'accept-encoding': 'br' });
    expect(b.headers['cache-control']).toBe('public, max-age=86400');
    expect(a.headers.etag).toBeTruthy();
    const again = await rawGet(versioned, { 'accept-encoding': 'br', 'if-none-match': a.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // Another coding is another representation: its own tag, and a full answer.
    const gz = await rawGet(versioned, { 'accept-encoding': 'gzip', 'if-none-match': a.headers.etag! });
    expect(gz.status).toBe(200);
    expect(gz.headers.etag).not.toBe(a.headers.etag);
    expect((await rawGet('/graphiql/nothing.js')).status).toBe(404);
  });

  it('compresses an asset once, not per request', async () => {
    const other = await env.addServer();
    const spy = vi.spyOn(zlib, 'brotliCompress');
    try {
      const bodies = await Promise.all([1, 2, 3].map(() => rawGet2(other.url, '/graphiql/react-dom.js', { 'accept-encoding': 'br' })));
      bodies.push(await rawGet2(other.url, '/graphiql/react-dom.js', { 'accept-encoding': 'br' }));
      for (const b of bodies) expect(b.headers['content-encoding']).toBe('br');
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
      await other.close();
    }
  });
});

function rawGet2(base: string, p: string, headers: Record<string, string>): Promise<{ headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(`${base}${p}`, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ headers: res.headers }));
    }).on('error', reject);
  });
}

describe('the IDE in Chromium', () => {
  it('sends nothing to /graphql until a key is given, then only with that key', async () => {
    browser ??= await launchChromium();
    const context = await browser.newContext();
    const page = await context.newPage();
    const graphql: Request[] = [];
    const answered = new Map<Request, number>();
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/graphql' && r.method() === 'POST') graphql.push(r); });
    page.on('requestfinished', async (r) => answered.set(r, (await r.response())?.status() ?? 0));
    page.on('requestfailed', (r) => answered.set(r, 0));

    await page.goto(`${env.url}/graphql`);
    await page.waitForSelector('#api-key');
    await page.waitForLoadState('networkidle');
    expect(graphql).toEqual([]);
    expect(await page.isVisible('.graphiql-container')).toBe(false);

    // A key the server does not know: one check, then the form says so; GraphiQL stays unmounted.
    await page.fill('#api-key', 'rk_not_a_real_key_000000000000000');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => /not accepted/.test(document.getElementById('key-error')!.textContent ?? ''));
    expect(graphql).toHaveLength(1);
    expect(await page.isVisible('.graphiql-container')).toBe(false);

    await page.fill('#api-key', env.keys.admin);
    await page.click('button[type=submit]');
    await page.waitForSelector('.graphiql-container');
    // GraphiQL's first act is to fetch the schema: with the key, and answered 200.
    const introspection = await until(() => graphql.find((r) => (r.postData() ?? '').includes('__schema')), (r) => !!r && answered.has(r));
    expect(answered.get(introspection!)).toBe(200);
    for (const r of graphql) {
      const auth = (await r.allHeaders()).authorization;
      expect(auth).toBe(`Bearer ${graphql.indexOf(r) === 0 ? 'rk_not_a_real_key_000000000000000' : env.keys.admin}`);
    }
    // Not kept: the box was not ticked. GraphiQL's own storage never sees it.
    const stores = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
    expect(stores).not.toContain(env.keys.admin);

    graphql.length = 0;
    await page.reload();
    await page.waitForSelector('#api-key');
    await page.waitForLoadState('networkidle');
    expect(graphql).toEqual([]);
    await context.close();
  });

  it('keeps the key for the tab only when asked, and forgets it on request', async () => {
    browser ??= await launchChromium();
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${env.url}/graphql`);
    await page.fill('#api-key', env.keys.app);
    await page.check('#remember-key');
    await page.click('button[type=submit]');
    await page.waitForSelector('.graphiql-container');
    expect(await page.evaluate(() => sessionStorage.getItem('rapport.graphiql.key'))).toBe(env.keys.app);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(env.keys.app);

    await page.reload();
    await page.waitForSelector('.graphiql-container');
    await page.click('button[aria-label="Forget key"]');
    await page.waitForSelector('#api-key');
    expect(await page.evaluate(() => sessionStorage.getItem('rapport.graphiql.key'))).toBeNull();
    await context.close();
  });
});
