import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@rapport/core/internal';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { DenseItemWeights } from '../src/models';
import { decodePayload, encodePayload } from '../src/plugin/model-store';
import type { Runtime } from '../src/plugin/runtime';
import { CONSENTED, recs, send, track, waitFor } from './helpers';

const logLines: string[] = [];
let env: TestEnvironment;

const ITEMS = [
  ...[1, 2, 3, 4].map((k) => ({ id: `a${k}`, title: `Alpha ${k}`, category: 'A', attributes: { line: 'alpha' } })),
  ...[1, 2, 3, 4].map((k) => ({ id: `b${k}`, title: `Beta ${k}`, category: 'B', attributes: { line: 'beta' } })),
];

/** Two tastes: even users view a1, a2 (and a3 every other time); odd users b1, b2 (b3). a4/b4 are rare. */
function syntheticEvents(users = 40) {
  const batch = [];
  for (let u = 0; u < users; u++) {
    const t = u % 2 === 0 ? 'a' : 'b';
    const items = [`${t}1`, `${t}2`, ...(u % 4 < 2 ? [`${t}3`] : []), ...(u % 10 < 2 ? [`${t}4`] : [])];
    for (const id of items) batch.push(track(`user-${u}`, 'Product Viewed', { product_id: id }, CONSENTED));
  }
  return batch;
}

const STATUS = `{ recommendationModel { model version items lastError } }`;
const status = async () => (await env.graphql(STATUS)).body.data.recommendationModel;

async function trainLikeTheCli(e: TestEnvironment) {
  const core = e.server.core;
  const plugin = core.plugins.find((p) => p.name === 'recommendations')!;
  const progress: string[] = [];
  const summary = await plugin.train!(core.pluginContext(plugin), { args: [], onProgress: (m) => progress.push(m) });
  return { summary, progress };
}

beforeAll(async () => {
  const logger = createLogger({ level: 'info' }, { write: (s: string) => void logLines.push(s) });
  env = await createTestEnvironment({
    logger,
    plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100, ease: { lambda: 5, minItemUsers: 2 } })],
  });
  await env.graphql(`mutation($items: [ItemInput!]!) { upsertItems(items: $items) { id } }`, { items: ITEMS });
  await send(env, syntheticEvents());
});
afterAll(async () => env?.close());

describe('training and serving EASE', () => {
  let probe: string;

  it('serves popularity until a model is trained', async () => {
    expect(await status()).toEqual({ model: 'popularity', version: null, items: 0, lastError: null });
    [probe] = await send(env, [track('probe', 'Product Viewed', { product_id: 'a1' }, CONSENTED)]);
    const r = await recs(env, probe, 3);
    expect(r.some((x) => x.model === 'ease')).toBe(false);
  });

  it('the train hook fits EASE on the interactions table and stores a gzip version; servers switch without restart', async () => {
    const { summary, progress } = await trainLikeTheCli(env);
    expect(summary).toMatchObject({ model: 'ease', version: 1, users: 41, items: 8, learnedItems: 8 });
    expect(summary.seconds).toBeGreaterThan(0);
    expect(progress.some((m) => m.includes('stored version 1'))).toBe(true);
    const [row] = await env.server.core.db.query<{ head: string; metrics: Record<string, unknown> }>(
      `SELECT encode(substring(payload from 1 for 2), 'hex') AS head, metrics FROM rec_model WHERE version = 1`,
    );
    expect(row.head).toBe('1f8b'); // gzip magic
    expect(row.metrics).toMatchObject({ users: 41, items: 8 });
    // The options given merge over the default: EASE with the time kernel, as measured.
    expect(row.metrics.options).toEqual({ lambda: 5, minItemUsers: 2, timeKernel: { tauSeconds: 150, weight: 4 } });

    const s = await waitFor(status, (v) => v.model === 'ease');
    expect(s).toMatchObject({ model: 'ease', version: 1, items: 8, lastError: null });
    const r = await recs(env, probe, 3);
    expect(r[0]).toMatchObject({ model: 'ease', reason: 'because you viewed Alpha 1' });
    expect(['a2', 'a3']).toContain(r[0].item.id);
    expect(r.filter((x) => x.model === 'ease').every((x) => x.item.category === 'A')).toBe(true);
  });

  it('with observedWeight or tune, the default is plain EASE (their solver assumes XᵀX)', async () => {
    const weighted = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 0, requireFields: [], ease: { observedWeight: 4, minItemUsers: 2 } })] });
    try {
      await send(weighted, syntheticEvents(12));
      const { summary } = await trainLikeTheCli(weighted);
      expect(summary).toMatchObject({ model: 'ease', version: 1 });
      const [row] = await weighted.server.core.db.query<{ metrics: { options: Record<string, unknown> } }>('SELECT metrics FROM rec_model');
      expect(row.metrics.options).toEqual({ lambda: 200, minItemUsers: 2, observedWeight: 4, timeKernel: false });
    } finally {
      await weighted.close();
    }
  });

  it('an EASE configuration that cannot train is refused when the plugin is created, naming the option', () => {
    expect(() => recommendationsPlugin({ ease: { tune: true, timeKernel: { tauSeconds: 60, weight: 1 } } })).toThrow(
      'recommendations: ease: timeKernel does not combine with observedWeight > 1 or tune',
    );
    expect(() => recommendationsPlugin({ ease: { timeKernel: { tauSeconds: 0, weight: 1 } } })).toThrow(/timeKernel.tauSeconds must be a finite number > 0, got 0/);
    expect(() => recommendationsPlugin({ ease: { precision: 'int4' as 'int8' } })).toThrow(/precision must be "int8" or "float32", got "int4"/);
  });

  it('scores the current interactions: new events flip the next answer without retraining', async () => {
    await send(env, [
      track('probe', 'Product Added', { product_id: 'b1' }),
      track('probe', 'Order Completed', { products: [{ product_id: 'b2', price: '10' }] }),
    ]);
    const r = await recs(env, probe, 3);
    expect(r[0].model).toBe('ease');
    expect(r[0].item.category).toBe('B');
    expect(r[0].item.id).not.toBe('b2'); // bought: left out
    expect(r[0].reason).toMatch(/^because you (bought Beta 2|added Beta 1 to your cart)$/);
  });

  it('similarItems: learned neighbours for a trained item, attributes for a brand-new one', async () => {
    const q = `query($id: ID!) { item(id: $id) { similarItems(first: 3) { item { id } model reason } } }`;
    const learned = (await env.graphql(q, { id: 'a1' })).body.data.item.similarItems;
    expect(learned[0]).toMatchObject({ model: 'ease', reason: 'often chosen with Alpha 1' });
    expect(['a2', 'a3']).toContain(learned[0].item.id);

    await env.graphql(`mutation { upsertItems(items: [{ id: "a-new", title: "Alpha New", category: "A", attributes: { line: "alpha" } }]) { id } }`);
    const fresh = (await env.graphql(q, { id: 'a-new' })).body.data.item.similarItems;
    expect(fresh.length).toBe(3);
    expect(fresh.every((x: { model: string; item: { id: string } }) => x.model === 'attributes' && x.item.id.startsWith('a'))).toBe(true);
  });

  it('mixes in attribute neighbours when the history holds items the model has not learned', async () => {
    const [id] = await send(env, [
      track('newcomer', 'Product Viewed', { product_id: 'a-new' }, CONSENTED),
      track('newcomer', 'Product Viewed', { product_id: 'a1' }, CONSENTED),
    ]);
    const r = await recs(env, id, 6);
    expect(r.some((x) => x.model === 'ease' && x.reason === 'because you viewed Alpha 1')).toBe(true);
    expect(r.some((x) => x.model === 'attributes' && x.reason === 'because you viewed Alpha New')).toBe(true);
  });

  it('a corrupt stored version is logged and the previous model keeps serving', async () => {
    await env.server.core.db.query(`INSERT INTO rec_model (name, version, payload) VALUES ('ease', 2, '\\x1f8b0000deadbeef'::bytea)`);
    const s = await waitFor(status, (v) => v.lastError !== null);
    expect(s).toMatchObject({ model: 'ease', version: 1 });
    expect(s.lastError).toContain('model id');
    const warning = logLines.map((l) => JSON.parse(l)).find((l) => l.level === 40 && String(l.msg).startsWith('could not load recommendation model'));
    expect(warning?.msg).toMatch(/keeping version 1$/);
    expect(warning?.plugin).toBe('recommendations');
    expect((await recs(env, probe, 3))[0].model).toBe('ease');

    // A good version after it is picked up again.
    const { summary } = await trainLikeTheCli(env);
    expect(summary.version).toBe(3);
    expect(await waitFor(status, (v) => v.version === 3)).toMatchObject({ model: 'ease', version: 3, lastError: null });
  });

  it('still serves a version stored by an earlier release (format 1, float32 weights)', async () => {
    const [row] = await env.server.core.db.query<{ payload: Buffer }>(`SELECT payload FROM rec_model WHERE version = 3`);
    const p = decodePayload(row.payload);
    expect(p.format).toBe(2);
    const dense = p.ease.weights.kind === 'dense' ? p.ease.weights.dense : null;
    expect(dense?.int8).toBeDefined();
    const asFloat32 = new DenseItemWeights(dense!.numItems, DenseItemWeights.fromJSON(dense!).items, DenseItemWeights.fromJSON(dense!).weights);
    const old = { ...p, format: 1 as const, ease: { ...p.ease, weights: { kind: 'dense' as const, dense: asFloat32.toJSON() } } };
    expect(old.ease.weights.dense.int8).toBeUndefined();
    const before = await recs(env, probe, 5);
    await env.server.core.db.query(`INSERT INTO rec_model (name, version, payload) VALUES ('ease', 4, $1)`, [encodePayload(old)]);
    expect(await waitFor(status, (v) => v.version === 4)).toMatchObject({ model: 'ease', version: 4, lastError: null });
    // The same weights as float32: the same answer.
    const after = await recs(env, probe, 5);
    expect(after.map(({ item, model, reason }) => [item.id, model, reason])).toEqual(before.map(({ item, model, reason }) => [item.id, model, reason]));
    after.forEach((x, k) => expect(x.score).toBeCloseTo(before[k].score, 5));
    expect(after.some((x) => x.model === 'ease')).toBe(true);
  });
});

const worker = path.resolve(__dirname, '../dist/plugin/train.worker.js');

describe('scheduled training (trainEvery)', () => {
  it.skipIf(!fs.existsSync(worker))('trains in a worker thread on a schedule and the server loads the result', async () => {
    const scheduled = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100, trainEvery: 1000, requireFields: [], firstTraining: { interactions: 1, items: 1 }, ease: { lambda: 5, minItemUsers: 2 } })] });
    try {
      await send(scheduled, syntheticEvents(12));
      const st = await waitFor(
        async () => (await scheduled.graphql(STATUS)).body.data.recommendationModel,
        (v) => v.model === 'ease',
        20_000,
      );
      expect(st).toMatchObject({ model: 'ease', items: 8, lastError: null });
    } finally {
      await scheduled.close();
    }
  });

  it.skipIf(!fs.existsSync(worker))('with two servers, scheduled training runs once per period in all (a cluster-wide job), never twice at once', async () => {
    const options = { refreshMs: 0, pollMs: 100, trainEvery: 2000, keepVersions: 50, requireFields: [], firstTraining: { interactions: 1, items: 1 }, ease: { lambda: 5, minItemUsers: 2 } };
    const a = await createTestEnvironment({ plugins: [recommendationsPlugin(options)], jobs: { pollIntervalMs: 250 } });
    try {
      const b = await a.addServer({ plugins: [recommendationsPlugin(options)], jobs: { pollIntervalMs: 250 } });
      await send(a, syntheticEvents(12));
      const started = Date.now();
      await waitFor(async () => (await a.graphql(STATUS)).body.data.recommendationModel, (v) => v.model === 'ease', 20_000);
      await new Promise((r) => setTimeout(r, 7000)); // three and a half more periods
      const rows = await a.server.core.db.query<{ version: number; started: Date; seconds: number }>(
        `SELECT version, (metrics->>'startedAt')::timestamptz AS started, (metrics->>'seconds')::float8 AS seconds FROM rec_model ORDER BY version`,
      );
      const periods = (Date.now() - started) / options.trainEvery;
      // One run per period across both servers (two would train about twice as many versions).
      expect(rows.length).toBeGreaterThanOrEqual(3);
      expect(rows.length).toBeLessThanOrEqual(Math.ceil(periods) + 1);
      // Never two at once: each run starts after the previous one finished.
      for (let k = 1; k < rows.length; k++) {
        expect(rows[k].started.getTime()).toBeGreaterThanOrEqual(rows[k - 1].started.getTime() + rows[k - 1].seconds * 1000 - 5);
      }
      // Both servers serve the newest version.
      const newest = rows.at(-1)!.version;
      for (const env of [a, b]) {
        await waitFor(async () => (await env.graphql(STATUS)).body.data.recommendationModel, (v) => v.version >= newest - 1, 5000);
      }
    } finally {
      await a.close();
    }
  });
});
