import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sentimentPlugin } from '../src';

// The plugin in a real server, through HTTP: /v1/batch in, GraphQL out, and the server's body limits.
let env: TestEnvironment;
beforeAll(async () => {
  env = await createTestEnvironment({ plugins: [sentimentPlugin()] });
});
afterAll(async () => env?.close());

const Q = `query($t: String!) { analyzeText(text: $t) { label truncated reason } }`;

it('scores a support message sent to /v1/batch, readable over GraphQL', async () => {
  const r = await env.post('/v1/batch', { batch: [{ type: 'track', userId: 'web-1', event: 'Support Message Sent', properties: { body: 'Not happy with the delivery.' } }] });
  expect(r.status).toBe(200);
  await env.settle();
  const res = await env.graphql(`{ profileByIdentity(type: "user_id", value: "web-1") { feedback { nodes { label status model } } } }`, {}, {
    headers: { 'x-rapport-purpose': 'analytics' },
  });
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data.profileByIdentity.feedback.nodes).toEqual([{ label: 'negative', status: 'scored', model: 'rapport-lr-blend-v1' }]);
});

it('analyzeText over HTTP: a 400 KB text is truncated and said so; a 1 MB request is refused by the body limit', async () => {
  const ok = await env.graphql(Q, { t: 'The staff was rude. '.repeat(20_000) });
  expect(ok.status).toBe(200);
  expect(ok.body.data.analyzeText).toEqual({ label: 'negative', truncated: true, reason: null });
  const big = await env.graphql(Q, { t: 'x'.repeat(1_000_000) });
  expect(big.status).toBe(413);
});
