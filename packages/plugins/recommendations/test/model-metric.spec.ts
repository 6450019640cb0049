import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { recommendationsPlugin } from '../src';
import { CONSENTED, send, track, waitFor } from './helpers';

let env: TestEnvironment;

/** The `rapport_plugin_recommendations_model_info` lines of a scrape of /metrics (admin key). */
async function modelInfo(): Promise<string[]> {
  const res = await fetch(`${env.url}/metrics`, { headers: { authorization: `Bearer ${env.keys.admin}` } });
  expect(res.status).toBe(200);
  return (await res.text()).split('\n').filter((l) => l.startsWith('rapport_plugin_recommendations_model_info'));
}

beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [recommendationsPlugin({ refreshMs: 0, pollMs: 100, requireFields: [], ease: { lambda: 5, minItemUsers: 2 } })] });
  const batch = [];
  for (let u = 0; u < 12; u++) for (const id of u % 2 ? ['b1', 'b2'] : ['a1', 'a2']) batch.push(track(`mm-${u}`, 'Product Viewed', { product_id: id }, CONSENTED));
  await send(env, batch);
});
afterAll(async () => env?.close());

describe('model version served, at /metrics', () => {
  it('popularity until a version is loaded, then the model name and version', async () => {
    expect(await modelInfo()).toEqual(['rapport_plugin_recommendations_model_info{model="popularity",version="none"} 1']);
    const plugin = env.server.core.plugins.find((p) => p.name === 'recommendations')!;
    const summary = await plugin.train!(env.server.core.pluginContext(plugin), { args: [], onProgress: () => undefined });
    expect(summary).toMatchObject({ version: 1 });
    // The server loads the new version off the request path (a notification, or its poll); the first read starts that.
    await waitFor(async () => (await env.graphql('{ recommendationModel { version } }')).body.data.recommendationModel.version, (v) => v === 1);
    expect(await modelInfo()).toEqual(['rapport_plugin_recommendations_model_info{model="ease",version="1"} 1']);
  });
});
