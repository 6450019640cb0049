import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// Plugins (ours and the example a third party copies) use only the public API: `@rapport/core`
// and `@rapport/schema` by their package names, never `@rapport/*/internal`, a file inside a
// package, another package's sources by a relative path, a PostgreSQL client of their own, or
// core's tables in their SQL.
const ROOT = path.resolve(__dirname, '../../..');
const PLUGIN_SOURCES = [
  ...fs.readdirSync(path.join(ROOT, 'packages/plugins')).map((d) => path.join(ROOT, 'packages/plugins', d, 'src')),
  ...fs.readdirSync(path.join(ROOT, 'examples')).map((d) => path.join(ROOT, 'examples', d, 'src')),
].filter((d) => fs.existsSync(d));

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const f = path.join(dir, e.name);
    return e.isDirectory() ? files(f) : /\.(ts|mts|cts|js|mjs)$/.test(f) ? [f] : [];
  });
}

/** What a plugin source file does that the boundary forbids, one line each. */
export function violations(file: string, text: string, packageRoot: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\(\s*)['"]([^'"]+)['"]/g)) {
    const spec = m[1];
    if (/^@rapport\/(core|schema|server|testing)\/.+/.test(spec)) out.push(`imports ${spec}: use the package's public entry`);
    if (/^@rapport\/(server|testing)$/.test(spec)) out.push(`imports ${spec}: plugins depend on @rapport/core and @rapport/schema only`);
    if (/^(pg|pg-pool|postgres|pg-boss)$/.test(spec)) out.push(`imports ${spec}: use ctx.db (core's pool) and ctx.jobs`);
    if (spec.startsWith('.') && !path.resolve(path.dirname(file), spec).startsWith(packageRoot + path.sep)) out.push(`imports ${spec}: outside the plugin's package`);
  }
  for (const m of text.matchAll(/\b(rapport_[a-z_]+)\b/g)) {
    out.push(`names core table ${m[1]}: read core data through ctx services`);
  }
  if (/\.dataSource\b|\bnotifications\.(listen|notify)\b/.test(text)) out.push('reaches into core internals (dataSource, notifications)');
  if (/\bctx\.(core|services)\b|\bRapportContext\b/.test(text)) out.push("reaches core's services through the request context: use RequestContext and the plugin's ctx services");
  return out;
}

describe('the plugin boundary', () => {
  it('finds plugin sources to check', () => {
    expect(PLUGIN_SOURCES.length).toBeGreaterThanOrEqual(2);
  });

  it('catches what it is meant to catch', () => {
    const root = '/repo/packages/plugins/x';
    const bad = [
      "import { Database } from '@rapport/core/internal';",
      "import { x } from '@rapport/core/dist/rapport';",
      "import { Client } from 'pg';",
      "import { y } from '../../../core/src/rapport';",
      "await ctx.db.query('SELECT * FROM rapport_consent');",
      'const url = ctx.db.dataSource.options.url;',
      'await ctx.services.consent.consentsOf([id]);',
    ];
    for (const line of bad) expect(violations(`${root}/src/a.ts`, line, root), line).not.toEqual([]);
    expect(violations(`${root}/src/a.ts`, "import { definePlugin } from '@rapport/core';\nimport { b } from './b';", root)).toEqual([]);
  });

  it.each(PLUGIN_SOURCES.map((d) => [path.relative(ROOT, d), d]))('%s uses only the public API', (_name, dir) => {
    const packageRoot = path.dirname(dir);
    const found = files(dir).flatMap((f) => violations(f, fs.readFileSync(f, 'utf8'), packageRoot).map((v) => `${path.relative(ROOT, f)}: ${v}`));
    expect(found).toEqual([]);
  });
});
