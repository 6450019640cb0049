import { definePlugin, type Change } from '@rapport/core/internal';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPluginTestkit, type PluginTestkit } from '../src';

const got: string[] = [];
const counter = definePlugin(() => ({
  name: 'counter',
  delivery: {
    kinds: ['event'],
    async handle(changes: Change[]) {
      for (const c of changes) if (c.kind === 'event') got.push(c.event.messageId);
    },
  },
}));

let kit: PluginTestkit;
beforeAll(async () => {
  kit = await createPluginTestkit([counter()]);
});
afterAll(async () => kit?.close());

it('settle() waits until the plugin has every stored event, and deliveryStatus says so', async () => {
  await kit.ingest(Array.from({ length: 30 }, (_, k) => ({ type: 'track', userId: `u${k % 3}`, event: 'Seen', messageId: `tk-${k}` })));
  const status = await kit.settle();
  expect(status).toEqual([expect.objectContaining({ consumer: 'counter', lag: 0, delivered: 30, deadLetters: 0 })]);
  expect([...got].sort()).toEqual(Array.from({ length: 30 }, (_, k) => `tk-${k}`).sort());
  const r = await kit.graphql(`{ deliveryStatus { consumer delivered lag } }`);
  expect(r.data.deliveryStatus).toEqual([{ consumer: 'counter', delivered: 30, lag: 0 }]);
});
