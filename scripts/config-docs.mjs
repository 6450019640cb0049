// Writes docs/configuration.md from the configuration schema (packages/core/src/config/config.schema.ts
// and env-vars.ts). Run through `npm run docs:config`, which builds core first; a test
// (packages/core/test/config/config-docs.spec.ts) fails when the committed file differs.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { renderConfigDocs } = require(path.join(root, 'packages/core/dist/internal.js'));
const out = path.join(root, 'docs/configuration.md');
fs.writeFileSync(out, renderConfigDocs());
console.log(`wrote ${path.relative(root, out)}`);
