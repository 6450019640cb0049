import { RapportError } from '../errors/rapport-error';
import type { Logger } from '../logger/logger';
import type { RapportPlugin } from './plugin.types';

const NAME = /^[a-z][a-z0-9-]*$/;

/** A plugin list that cannot start: duplicate names, unknown dependencies, or a cycle. */
export class PluginConfigError extends RapportError {
  constructor(message: string) {
    super('PLUGIN_CONFIG', message);
    this.name = 'PluginConfigError';
  }
}

/**
 * Orders plugins so each comes after what it `dependsOn`, and refuses, with a message that says
 * what to change, duplicate names, unknown dependencies and dependency cycles.
 */
export function orderPlugins(plugins: RapportPlugin[]): RapportPlugin[] {
  const byName = new Map<string, RapportPlugin>();
  for (const p of plugins) {
    if (!p || typeof p.name !== 'string' || !NAME.test(p.name)) {
      throw new PluginConfigError(`plugin name ${JSON.stringify(p?.name)} is invalid: use kebab-case, like "loyalty-tiers"`);
    }
    if (byName.has(p.name)) throw new PluginConfigError(`two plugins are named "${p.name}": plugin names must be unique`);
    byName.set(p.name, p);
  }
  for (const p of plugins) {
    for (const d of p.dependsOn ?? []) {
      if (!byName.has(d)) throw new PluginConfigError(`plugin "${p.name}" depends on "${d}", which is not installed: add it to plugins`);
    }
  }
  const ordered: RapportPlugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: RapportPlugin, path: string[]) => {
    const s = state.get(p.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(p.name)), p.name];
      throw new PluginConfigError(`plugin dependency cycle: ${cycle.join(' -> ')}; remove one of these dependsOn entries`);
    }
    state.set(p.name, 'visiting');
    for (const d of p.dependsOn ?? []) visit(byName.get(d)!, [...path, p.name]);
    state.set(p.name, 'done');
    ordered.push(p);
  };
  for (const p of plugins) visit(p, []);
  return ordered;
}

/** Compares `version` with a simple semver range (`^1.2.0`, `~1.2.0`, `>=1.0.0`, `1.x`, `*`). */
export function satisfies(version: string, range: string): boolean {
  const parse = (v: string) => v.replace(/^[^\d]*/, '').split(/[.-]/).slice(0, 3).map((n) => (n === 'x' ? NaN : Number(n)));
  const [a, b, c] = parse(version);
  const r = range.trim();
  if (r === '*' || r === '') return true;
  const [x, y, z] = parse(r);
  const cmp = (p: number[], q: number[]) => p[0] - q[0] || p[1] - q[1] || (p[2] || 0) - (q[2] || 0);
  if (r.startsWith('>=')) return cmp([a, b, c], [x, y, z || 0]) >= 0;
  if (r.startsWith('^')) return a === x && (a > 0 ? cmp([a, b, c], [x, y, z || 0]) >= 0 : b === y && c >= (z || 0));
  if (r.startsWith('~')) return a === x && b === y && c >= (z || 0);
  return a === x && (Number.isNaN(y) || b === y) && (Number.isNaN(z) || c === z);
}

/** Warns (or, when strict, fails) for plugins built for another core version. */
export function checkCompatibility(plugins: RapportPlugin[], coreVersion: string, strict: boolean, logger?: Logger): void {
  for (const p of plugins) {
    if (!p.compatibility || satisfies(coreVersion, p.compatibility)) continue;
    const msg = `plugin "${p.name}" declares compatibility "${p.compatibility}" but @rapport/core is ${coreVersion}`;
    if (strict) throw new PluginConfigError(`${msg}; update the plugin or turn off strictCompatibility`);
    logger?.warn({ plugin: p.name }, `${msg}; starting anyway (set strictCompatibility to refuse)`);
  }
}
