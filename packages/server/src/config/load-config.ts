import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, resolveConfig, type RapportConfig, type RapportConfigInput } from '@rapport/core/internal';
import { defaultPlugins } from './default-plugins';

/** What the CLI runs with: the file's configuration, the same resolved and checked, and the file. */
export interface LoadedConfig {
  config: RapportConfigInput;
  /** The configuration as it will run (file, environment, defaults), checked. */
  resolved: RapportConfig;
  file: string | null;
}

/**
 * The configuration the CLI runs with: `rapport.config.js` from the working directory (or the
 * file `RAPPORT_CONFIG` names) when there is one, else the defaults with the bundled plugins.
 * Environment variables (`DATABASE_URL`, `PORT`, ...) fill what the file leaves out. The file and
 * every variable are checked first: a {@link ConfigError} lists every problem at once.
 */
export function loadConfig(cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const named = env.RAPPORT_CONFIG;
  const file = named ? path.resolve(cwd, named) : path.join(cwd, 'rapport.config.js');
  if (!fs.existsSync(file)) {
    if (named) {
      throw new ConfigError([{ key: 'RAPPORT_CONFIG', source: 'env', problem: `${JSON.stringify(named)}: no such file (${file})`, rule: 'the path of an existing file', fix: 'correct the path, or unset RAPPORT_CONFIG to read ./rapport.config.js' }]);
    }
    const config: RapportConfigInput = { plugins: defaultPlugins() };
    return { config, resolved: resolveConfig(config, env), file: null };
  }
  let loaded: unknown;
  try {
    loaded = require(file);
  } catch (err) {
    throw new Error(`${file} could not be loaded: ${(err as Error).message.split('\n')[0]}`);
  }
  const config = (loaded && typeof loaded === 'object' && 'default' in loaded ? (loaded as { default: unknown }).default : loaded) as RapportConfigInput;
  const resolved = resolveConfig(config, env, path.relative(cwd, file) || file);
  return { config: { ...config, plugins: config.plugins ?? defaultPlugins() }, resolved, file };
}
