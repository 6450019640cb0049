import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { buildRapportSchema, printRapportSchema } from '@rapport/schema/internal';
import { defaultPlugins } from '../../server/src/config/default-plugins';

const SNAPSHOT = path.resolve(__dirname, '../schema.graphql');

/**
 * The committed SDL must match the schema the default server builds (core + bundled plugins).
 * When it does not, run `npm run schema:update` and commit the result: reviewers see every change
 * to the public API in the diff.
 */
it('packages/schema/schema.graphql is up to date with the code', async () => {
  const sdl = printRapportSchema(await buildRapportSchema(defaultPlugins()));
  if (process.env.UPDATE_SCHEMA) fs.writeFileSync(SNAPSHOT, sdl);
  const committed = fs.existsSync(SNAPSHOT) ? fs.readFileSync(SNAPSHOT, 'utf8') : '';
  expect(committed, 'schema.graphql is stale: run `npm run schema:update` and commit it').toBe(sdl);
});
