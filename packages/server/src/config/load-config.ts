import fs from 'node:fs';
import path from 'node:path';
import type { RapportConfigInput } from '@rapport/core/internal';
import { defaultPlugins } from './default-plugins';

/**
 * The configuration the CLI runs with: `rapport.config.js` from the working directory (or the
 * file `RAPPORT_CONFIG` names) when there is one, else the defaults with the bundled plugins.
 * Environment variables (`DATABASE_URL`, `PORT`, ...) fill what the file leaves out.
 */
export function loadConfig(cwd = process.cwd()): { config: RapportConfigInput; file: string | null } {
  const file = process.env.RAPPORT_CONFIG ? path.resolve(cwd, process.env.RAPPORT_CONFIG) : path.join(cwd, 'rapport.config.js');
  if (!fs.existsSync(file)) {
    if (process.env.RAPPORT_CONFIG) throw new Error(`RAPPORT_CONFIG=${process.env.RAPPORT_CONFIG}: no such file`);
    return { config: { plugins: defaultPlugins() }, file: null };
  }
  const loaded = require(file) as RapportConfigInput | { default: RapportConfigInput };
  const config = 'default' in loaded ? loaded.default : loaded;
  return { config: { ...config, plugins: config.plugins ?? defaultPlugins() }, file };
}
