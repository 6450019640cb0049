import { definePlugin, type Change } from '@rapport/core/internal';
import { recommendationsPlugin } from '@rapport/plugin-recommendations';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (`name{a="b",...} value` lines; `#` lines skipped). */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

/** Sum of the samples named `name` whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

// A plugin whose delivery fails on one event, for the delivery metrics.
const failing = definePlugin(() => ({
  name: 'probe-delivery',
  delivery: {
    kinds: ['event'],
    maxAttempts: 1,
    async handle(changes: Change[]) {
      for (const c of changes) if (c.kind === 'event' && c.event.name === 'Poison') throw new Error('cannot take poison');
    },
  },
}));

let env: TestEnvironment;
let metricsKey: string;

async function scrape(key: string | null = metricsKey) {
  const res = await fetch(`${env.url}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  const text = await res.text();
  return { status: res.status, text, contentType: res.headers.get('content-type') };
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [failing(), recommendationsPlugin({ trainEvery: 0 })] });
  metricsKey = (await env.server.core.services.keys.create({ name: 'prometheus', roles: ['metrics'] })).key;
});

afterAll(async () => {
  await env?.close();
});

describe('/metrics', () => {
  it('answers a key with the metrics role (or admin); 401 without a valid key, 403 for other roles', async () => {
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect((await scrape(env.keys.admin)).status).toBe(200);
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('rk_not-a-key')).status).toBe(401);
    const ingest = await scrape(env.keys.ingest);
    expect(ingest.status).toBe(403);
    expect(JSON.parse(ingest.text).error).toMatchObject({ code: 'FORBIDDEN', rule: 'permission' });
    expect((await scrape(env.keys.app)).status).toBe(403);
    // The metrics role reads nothing else.
    const gql = await env.graphql('{ profiles(first: 1) { nodes { id } } }', {}, { key: metricsKey });
    expect(gql.body, JSON.stringify(gql.body)).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
  });

  it('ingestion counters and the GraphQL histogram move by exactly what was sent', async () => {
    const before = parseExposition((await scrape()).text).samples;
    // 3 stored, 1 duplicate (a messageId stored by the first request), 2 rejected (required, enum).
    const first = await env.post('/v1/track', { userId: 'm-1', event: 'Viewed', messageId: 'metrics-dup' });
    expect(first.status).toBe(200);
    const batch = await env.post('/v1/batch', {
      batch: [
        { type: 'track', userId: 'm-2', event: 'Viewed' },
        { type: 'track', userId: 'm-3', event: 'Viewed' },
        { type: 'track', userId: 'm-1', event: 'Viewed', messageId: 'metrics-dup' },
        { type: 'track', event: 'No one' },
        { type: 'nonsense', userId: 'm-4' },
      ],
    });
    expect(batch.body).toMatchObject({ accepted: 2, duplicates: 1 });
    expect(batch.body.errors).toHaveLength(2);
    // 1 suppressed: an identity of a deleted person.
    await env.post('/v1/identify', { userId: 'm-gone' });
    const id = (await env.graphql('{ profileByIdentity(type: "user_id", value: "m-gone") { id } }')).body.data.profileByIdentity.id;
    expect((await env.graphql('mutation($id: ID!) { deleteProfile(id: $id) { suppressed } }', { id })).body.errors).toBeUndefined();
    expect((await env.post('/v1/track', { userId: 'm-gone', event: 'Back' })).body).toMatchObject({ suppressed: true });
    // Named operations twice, an anonymous one once.
    for (let i = 0; i < 2; i++) expect((await env.graphql('query MetricsProbe { profiles(first: 1) { nodes { id } } }')).status).toBe(200);
    expect((await env.graphql('{ profiles(first: 1) { nodes { id } } }')).status).toBe(200);

    const after = parseExposition((await scrape()).text).samples;
    const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    expect(moved('rapport_ingestion_messages_total', { outcome: 'stored' })).toBe(1 + 2 + 1); // first, m-2, m-3, the identify
    expect(moved('rapport_ingestion_messages_total', { outcome: 'duplicate' })).toBe(1);
    expect(moved('rapport_ingestion_messages_total', { outcome: 'rejected' })).toBe(2);
    expect(moved('rapport_ingestion_messages_total', { outcome: 'suppressed' })).toBe(1);
    expect(moved('rapport_ingestion_messages_total', { outcome: 'failed' })).toBe(0);
    expect(moved('rapport_ingestion_rejected_total', { reason: 'required' })).toBe(1);
    expect(moved('rapport_ingestion_rejected_total', { reason: 'enum' })).toBe(1);
    expect(moved('rapport_graphql_operation_duration_seconds_count', { operation: 'MetricsProbe', type: 'query', outcome: 'ok' })).toBe(2);
    // The anonymous probe and the unnamed profileByIdentity query; the unnamed deleteProfile is a mutation.
    expect(moved('rapport_graphql_operation_duration_seconds_count', { operation: 'anonymous', type: 'query' })).toBe(2);
    expect(moved('rapport_graphql_operation_duration_seconds_count', { operation: 'anonymous', type: 'mutation' })).toBe(1);
    // Each request once, under its route pattern and status.
    expect(moved('rapport_http_request_duration_seconds_count', { method: 'POST', route: '/v1/batch', status: String(batch.status) })).toBe(1);
    expect(moved('rapport_http_request_duration_seconds_count', { method: 'POST', route: '/v1/track' })).toBe(2);
    // profileByIdentity, deleteProfile, MetricsProbe twice, the anonymous query.
    expect(moved('rapport_http_request_duration_seconds_count', { method: 'POST', route: '/graphql', status: '200' })).toBe(5);
    // A histogram's +Inf bucket is its count.
    expect(total(after, 'rapport_http_request_duration_seconds_bucket', { route: '/v1/batch', le: '+Inf' })).toBe(total(after, 'rapport_http_request_duration_seconds_count', { route: '/v1/batch' }));
  });

  it('labels carry route patterns, never a URL, an id or a key', async () => {
    const r = await env.post('/v1/identify', { userId: 'label-probe' });
    const profileId = (await env.graphql('{ profileByIdentity(type: "user_id", value: "label-probe") { id } }')).body.data.profileByIdentity.id;
    await fetch(`${env.url}/graphql?query=${encodeURIComponent('{ __typename }')}&secret=label-probe`, { headers: { authorization: `Bearer ${env.keys.admin}` } });
    await fetch(`${env.url}/nowhere/${profileId}`);
    expect(r.status).toBe(200);
    const { text } = await scrape();
    const { samples } = parseExposition(text);
    for (const secret of [env.keys.admin, env.keys.ingest, metricsKey, profileId, 'label-probe', 'secret=']) expect(text).not.toContain(secret);
    expect(total(samples, 'rapport_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(total(samples, 'rapport_http_request_duration_seconds_count', { method: 'GET', route: '/graphql' })).toBeGreaterThanOrEqual(1);
  });

  it('pool, delivery, plugin and process metrics', async () => {
    await env.settle();
    const before = parseExposition((await scrape()).text).samples;
    await env.post('/v1/track', { userId: 'd-1', event: 'Fine' });
    await env.post('/v1/track', { userId: 'd-1', event: 'Poison' });
    await env.settle();
    const { samples, types } = parseExposition((await scrape()).text);
    const moved = (name: string, labels: Record<string, string> = {}) => total(samples, name, labels) - total(before, name, labels);
    expect(types.get('rapport_http_request_duration_seconds')).toBe('histogram');
    expect(types.get('rapport_ingestion_messages_total')).toBe('counter');
    expect(types.get('rapport_db_pool_connections')).toBe('gauge');
    expect(total(samples, 'rapport_db_pool_max_connections')).toBe(env.server.core.config.database.poolSize);
    expect(total(samples, 'rapport_db_pool_connections')).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'rapport_db_pool_waiting_requests')).toBe(0);
    expect(total(samples, 'rapport_db_pool_acquire_seconds_count', { outcome: 'acquired' })).toBeGreaterThan(0);
    // Fine delivered, Poison dead-lettered (maxAttempts 1).
    expect(moved('rapport_delivery_changes_total', { plugin: 'probe-delivery' })).toBe(1);
    expect(moved('rapport_delivery_failures_total', { plugin: 'probe-delivery', outcome: 'dead_letter' })).toBe(1);
    expect(total(samples, 'rapport_delivery_dead_letters', { plugin: 'probe-delivery' })).toBe(1);
    expect(total(samples, 'rapport_delivery_lag_changes', { plugin: 'probe-delivery' })).toBe(0);
    expect(types.get('rapport_delivery_lag_seconds')).toBe('gauge');
    expect(samples.find((s) => s.name === 'rapport_plugin_recommendations_model_info')).toEqual({
      name: 'rapport_plugin_recommendations_model_info', labels: { model: 'popularity', version: 'none' }, value: 1,
    });
    expect(total(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(types.get('nodejs_heap_size_total_bytes')).toBe('gauge');
  });

  it('GraphQL operation names are bounded: past 100 distinct names they count as "other"', async () => {
    for (let i = 0; i < 101; i++) await env.graphql(`query Bounded${i} { __typename }`);
    const { samples } = parseExposition((await scrape()).text);
    const names = new Set(samples.filter((s) => s.name === 'rapport_graphql_operation_duration_seconds_count').map((s) => s.labels.operation));
    // MetricsProbe (earlier) and Bounded0..98 are the 100 names; Bounded99 and Bounded100 count as other.
    expect(names).toEqual(new Set(['MetricsProbe', 'anonymous', 'other', ...Array.from({ length: 99 }, (_, i) => `Bounded${i}`)]));
    expect(total(samples, 'rapport_graphql_operation_duration_seconds_count', { operation: 'other' })).toBe(2);
  });
});
