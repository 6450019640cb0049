import { createLogger, logLevelFromEnv } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './support/until';

/** Every line the server logged, parsed. */
const lines: Array<Record<string, unknown>> = [];
let raw = '';
const destination = {
  write(chunk: string) {
    raw += chunk;
    for (const l of chunk.split('\n')) if (l.trim()) lines.push(JSON.parse(l));
  },
};

let env: TestEnvironment;
let adminKeyId: string;
let ingestKeyId: string;

beforeAll(async () => {
  env = await createTestEnvironment({ logger: createLogger({ level: 'info' }, destination) });
  const keys = await env.server.core.services.keys.list();
  adminKeyId = keys.find((k) => k.name === 'test-admin')!.id;
  ingestKeyId = keys.find((k) => k.name === 'test-ingest')!.id;
});

afterAll(async () => {
  await env?.close();
});

/** The request lines of one request id. */
const requestLines = (requestId: string) => lines.filter((l) => l.requestId === requestId && l.msg === 'request');

describe('request log', () => {
  it('one info line per request: method, route pattern, status, duration, request id, key id; never the key, the query string or the body', async () => {
    const query = '{ profileByIdentity(type: "email", value: "log-probe@example.com") { id } }';
    const res = await fetch(`${env.url}/graphql?query=${encodeURIComponent(query)}&extra=log-probe-value`, {
      headers: { authorization: `Bearer ${env.keys.admin}`, 'x-request-id': 'log-probe-1', 'apollo-require-preflight': '1' },
    });
    expect(res.status).toBe(200);
    const [line] = await until(() => requestLines('log-probe-1'), (l) => l.length > 0);
    expect(line).toMatchObject({ level: 30, msg: 'request', method: 'GET', route: '/graphql', status: 200, requestId: 'log-probe-1', keyId: adminKeyId });
    expect(typeof line.ms).toBe('number');
    expect(Object.keys(line).sort()).toEqual(['keyId', 'level', 'method', 'ms', 'msg', 'requestId', 'route', 'service', 'status', 'time']);

    // The tracking API, with the write key in the body (Segment's way) and personal data in it.
    const track = await env.post('/v1/identify', { writeKey: env.keys.ingest, userId: 'log-probe-user', traits: { email: 'log-probe@example.com' } }, { key: null, headers: { 'x-request-id': 'log-probe-2' } });
    expect(track.status).toBe(200);
    const [tline] = await until(() => requestLines('log-probe-2'), (l) => l.length > 0);
    expect(tline).toMatchObject({ level: 30, method: 'POST', route: '/v1/identify', status: 200, keyId: ingestKeyId });

    // A refused request: no key id, the status.
    await fetch(`${env.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'log-probe-3' }, body: '{"query":"{ __typename }"}' });
    const [refused] = await until(() => requestLines('log-probe-3'), (l) => l.length > 0);
    expect(refused).toMatchObject({ route: '/graphql', status: 401 });
    expect(refused.keyId).toBeUndefined();

    // Exactly one line each (Fastify's own request logging is off), and nothing secret or personal anywhere.
    for (const id of ['log-probe-1', 'log-probe-2', 'log-probe-3']) expect(requestLines(id)).toHaveLength(1);
    for (const secret of [env.keys.admin, env.keys.ingest, 'log-probe-value', 'log-probe@example.com', 'log-probe-user', 'extra=', 'authorization']) {
      expect(raw).not.toContain(secret);
    }
  });

  it('a path with an id logs its route pattern; probes log at debug', async () => {
    await fetch(`${env.url}/livez`, { headers: { 'x-request-id': 'log-probe-4' } });
    await fetch(`${env.url}/no/such/place-42`, { headers: { 'x-request-id': 'log-probe-5' } });
    const [missing] = await until(() => requestLines('log-probe-5'), (l) => l.length > 0);
    expect(missing).toMatchObject({ route: 'unmatched', status: 404 });
    expect(raw).not.toContain('place-42');
    expect(requestLines('log-probe-4')).toHaveLength(0); // at debug, below this logger's info
  });

  it('RAPPORT_LOG_LEVEL sets the level; LOG_LEVEL, its older name, still works', () => {
    expect(logLevelFromEnv('info', {})).toBe('info');
    expect(logLevelFromEnv('info', { LOG_LEVEL: 'debug' })).toBe('debug');
    expect(logLevelFromEnv('info', { RAPPORT_LOG_LEVEL: 'warn', LOG_LEVEL: 'debug' })).toBe('warn');
    const saved = { r: process.env.RAPPORT_LOG_LEVEL, l: process.env.LOG_LEVEL };
    try {
      process.env.RAPPORT_LOG_LEVEL = 'error';
      expect(createLogger({}, destination).level).toBe('error');
      delete process.env.RAPPORT_LOG_LEVEL;
      process.env.LOG_LEVEL = 'debug';
      expect(createLogger({}, destination).level).toBe('debug');
    } finally {
      if (saved.r === undefined) delete process.env.RAPPORT_LOG_LEVEL;
      else process.env.RAPPORT_LOG_LEVEL = saved.r;
      if (saved.l === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved.l;
    }
  });

  it('without an OTLP endpoint, no OpenTelemetry SDK is loaded or registered', () => {
    // Nothing registered a tracer provider or context manager with the API.
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')]).toBeUndefined();
    // Only the API's no-op facade, which a dependency loads, may be in memory: no SDK, exporter or context manager.
    const loaded = Object.keys(require.cache).filter((p) => p.includes('@opentelemetry') && !p.includes('@opentelemetry/api/'));
    expect(loaded.map((p) => p.replace(/.*node_modules./, ''))).toEqual([]);
  });
});
