import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../src/config/config-docs';
import { configSchema } from '../../src/config/config.schema';
import { ENV_ONLY_VARS } from '../../src/config/env-vars';

const DOC = path.resolve(__dirname, '../../../../docs/configuration.md');

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` writes from the schema (run it after changing a key)', () => {
    expect(fs.readFileSync(DOC, 'utf8')).toBe(renderConfigDocs());
  });

  it('lists every section key and every variable', () => {
    const doc = renderConfigDocs();
    for (const k of Object.keys(configSchema.shape)) expect(doc).toContain(`\`${k}\``);
    for (const v of ENV_ONLY_VARS) expect(doc).toContain(`| \`${v.name}\` |`);
    for (const v of ['DATABASE_URL', 'RAPPORT_PG_POOL', 'RAPPORT_RATE_LIMIT', 'PORT', 'HOST']) expect(doc).toContain(`\`${v}\``);
  });
});
