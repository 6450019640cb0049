import path from 'node:path';
import { z } from 'zod';
import { builtInDefaults } from './built-in-defaults';
import { configSchema, type ConfigKeyMeta } from './config.schema';
import type { ConfigIssue } from './config-error';
import { ENV_ONLY_VARS } from './env-vars';
import type { RapportConfigInput } from './rapport-config';

type Json = Record<string, unknown>;
type Path = Array<string | number>;
interface Def {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema without its `.optional()`. */
function unwrap(s: z.ZodType): z.ZodType {
  const d = defOf(s);
  return d.type === 'optional' && d.innerType ? unwrap(d.innerType) : s;
}

/** A key's documentation (set on the schema by `key()` in config.schema.ts). */
export function metaOf(s: z.ZodType): Partial<ConfigKeyMeta> {
  return (unwrap(s).meta() ?? {}) as Partial<ConfigKeyMeta>;
}

/** A section: an object of named keys (not a record, not a value checked loosely). */
export function isSection(s: z.ZodType): boolean {
  const inner = unwrap(s);
  return defOf(inner).type === 'object' && !metaOf(inner).typeLabel && !!defOf(inner).shape;
}

/** The keys of a section, in the schema's order. */
export function sectionKeys(s: z.ZodType): Array<[string, z.ZodType]> {
  return Object.entries(defOf(unwrap(s)).shape ?? {});
}

/** The schema of the value at `path` (through sections, lists and records), if the path is in the schema. */
function schemaAt(p: Path): z.ZodType | undefined {
  let s: z.ZodType | undefined = configSchema;
  for (const part of p) {
    if (!s) return undefined;
    const d = defOf(unwrap(s));
    if (d.type === 'object') s = d.shape?.[String(part)];
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else return undefined;
  }
  return s;
}

function jsonSchemaOf(s: z.ZodType): Json {
  return z.toJSONSchema(unwrap(s), { unrepresentable: 'any', io: 'input' }) as Json;
}

const article = (t: string) => t.replace(/^(a|an) /, '');
function plural(t: string): string {
  return article(t).replace(/^(non-empty )?(string|integer|number|object|plugin|list)\b/, (_m, ne = '', w) => `${ne}${w}s`);
}

/** A rule in words, from a value's JSON Schema: `an integer ≥ 1`, `one of 'deny', 'allow'`. */
function ruleOfJson(j: Json): string {
  if (typeof j.typeLabel === 'string') return j.typeLabel;
  if (Array.isArray(j.enum)) return `one of ${j.enum.map((v) => `'${String(v)}'`).join(', ')}`;
  if ('const' in j) return `'${String(j.const)}'`;
  if (Array.isArray(j.anyOf)) return (j.anyOf as Json[]).map(ruleOfJson).join(', or ');
  const range = (what: string) => {
    // z.int() bounds itself to safe integers: not a rule anyone needs to read.
    const min = typeof j.minimum === 'number' && j.minimum > Number.MIN_SAFE_INTEGER ? j.minimum : undefined;
    const max = typeof j.maximum === 'number' && j.maximum < Number.MAX_SAFE_INTEGER ? j.maximum : undefined;
    if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
    if (min !== undefined) return `${what} ≥ ${min}`;
    if (max !== undefined) return `${what} ≤ ${max}`;
    return what;
  };
  switch (j.type) {
    case 'integer':
      return range('an integer');
    case 'number':
      return range('a number');
    case 'boolean':
      return '`true` or `false`';
    case 'string':
      return j.minLength ? 'a non-empty string' : 'a string';
    case 'array':
      return `a list of ${plural(ruleOfJson((j.items as Json) ?? {}))}`;
    case 'object':
      if (j.additionalProperties && typeof j.additionalProperties === 'object') return `an object whose values are ${plural(ruleOfJson(j.additionalProperties as Json))}`;
      if (j.properties) return `an object with keys ${Object.keys(j.properties as Json).join(', ')}`;
      return 'an object';
    default:
      return 'a value';
  }
}

/** A key's rule in words (`an integer ≥ 1`), for messages and docs. */
export function ruleOf(s: z.ZodType): string {
  const meta = metaOf(s);
  return meta.typeLabel ?? ruleOfJson(jsonSchemaOf(s));
}

/** A value as a message may show it: short, and never a secret's text. */
function shown(v: unknown, secret: boolean): string {
  if (secret && v !== undefined) return 'the value';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v && typeof v === 'object') return 'an object';
  return String(v);
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a number' : Number.isNaN(v) ? 'not a number' : 'not a whole number';
  return { string: 'a string', boolean: 'a boolean', function: 'a function', object: 'an object' }[typeof v as string] ?? typeof v;
}

/** The value at `path` of the built-in defaults, shown as in a config file, if there is one. */
function defaultShown(p: Path, meta: Partial<ConfigKeyMeta>): string | undefined {
  if (meta.docDefault) return meta.docDefault.startsWith('`') ? meta.docDefault.replace(/`/g, '') : undefined;
  let v: unknown = builtInDefaults();
  for (const part of p) v = v && typeof v === 'object' ? (v as Json)[String(part)] : undefined;
  if (v === undefined || typeof v === 'function') return undefined;
  const text = JSON.stringify(v);
  return text.length > 40 ? undefined : text;
}

const pathText = (p: Path) => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : i ? `.${x}` : x)).join('');

function valueAt(input: unknown, p: Path): unknown {
  let v = input;
  for (const part of p) v = v && typeof v === 'object' ? (v as Json)[String(part)] : undefined;
  return v;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The known word closest to `word`, when it is close enough to be a typo. */
export function closest(word: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(word, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

function unknownKeyIssue(at: Path, name: string): ConfigIssue {
  const known = sectionKeys(schemaAt(at) ?? configSchema).map(([k]) => k);
  const near = closest(name, known);
  const where = at.length ? `not a key of ${pathText(at)}` : 'not a configuration section';
  return {
    key: pathText([...at, name]), source: 'file', problem: `unknown key: ${where}`,
    rule: `${at.length ? `keys of ${pathText(at)}` : 'sections'}: ${known.join(', ')}`,
    fix: near ? `did you mean "${near}"? Rename it` : 'remove it, or fix its name',
  };
}

function valueIssue(input: unknown, issue: z.core.$ZodIssue): ConfigIssue {
  const p = issue.path as Path;
  const s = schemaAt(p);
  const meta = s ? metaOf(s) : {};
  const value = valueAt(input, p);
  const secret = !!meta.secret;
  const rule = s ? ruleOf(s) : issue.message;
  const last = p.at(-1);
  if (p[0] === 'plugins' && p.length === 2 && typeof value === 'function') {
    return { key: pathText(p), source: 'file', problem: 'a function, not a plugin', rule, fix: 'call the plugin factory: `plugins: [loyaltyPlugin()]`, not `plugins: [loyaltyPlugin]`' };
  }
  let problem: string;
  if (value === undefined) problem = 'missing';
  else if (issue.code === 'invalid_union') problem = `${shown(value, secret)} is none of these forms`;
  else if (issue.code === 'invalid_type' || issue.code === 'custom') problem = `${shown(value, secret)} is ${kindOf(value)}`;
  else if (issue.code === 'too_small' || issue.code === 'too_big') problem = `${shown(value, secret)} is out of range`;
  else problem = `${shown(value, secret)} is not allowed`;
  const example = typeof last === 'string' ? defaultShown(p, meta) : undefined;
  const fix = value === undefined
    ? `add it: ${rule}`
    : `write ${rule}${example ? `, e.g. \`${String(last)}: ${example}\` (the default)` : ''}${typeof last === 'string' && s ? ', or remove the key for the default' : ''}`;
  return { key: pathText(p), source: 'file', problem, rule, fix };
}

/**
 * Every problem of a configuration object (the file's, or what a program passes to
 * `createRapport`): unknown keys (with the nearest known one), wrong types, values out of range.
 */
export function checkConfigInput(input: unknown): ConfigIssue[] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return [{ key: '(the file)', source: 'file', problem: `exports ${kindOf(input)}`, rule: 'an object of sections', fix: 'export an object: `module.exports = { ... }`' }];
  }
  const result = configSchema.safeParse(input);
  if (result.success) return [];
  return result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys.map((k) => unknownKeyIssue(issue.path as Path, k)) : [valueIssue(input, issue)],
  );
}

/** A key that an environment variable sets: the variable, the key's path and schema. */
export interface EnvBoundKey {
  env: string;
  path: string[];
  schema: z.ZodType;
}

/** Every key that has an environment variable, in the schema's order. */
export function envBoundKeys(): EnvBoundKey[] {
  const out: EnvBoundKey[] = [];
  const walk = (s: z.ZodType, at: string[]) => {
    for (const [k, child] of sectionKeys(s)) {
      const env = metaOf(child).env;
      if (env) out.push({ env, path: [...at, k], schema: unwrap(child) });
      if (isSection(child)) walk(child, [...at, k]);
    }
  };
  walk(configSchema, []);
  return out;
}

function envIssue(name: string, raw: string, problem: string, rule: string, example: string | undefined, secret: boolean): ConfigIssue {
  return {
    key: name, source: 'env', problem: secret ? problem.replace(JSON.stringify(raw), 'the value') : problem, rule,
    fix: `set ${name} to ${rule}${example ? `, e.g. ${name}=${example} (the default)` : ''}, or unset it`,
  };
}

/**
 * The configuration the environment gives (`RAPPORT_PG_POOL` -> `database.poolSize`, ...), and
 * every variable whose value breaks its rule. An empty variable counts as unset.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): { layer: RapportConfigInput; issues: ConfigIssue[] } {
  const layer: Json = {};
  const issues: ConfigIssue[] = [];
  for (const { env: name, path: p, schema } of envBoundKeys()) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const meta = metaOf(schema);
    const rule = ruleOf(schema);
    const numeric = ['integer', 'number'].includes(jsonSchemaOf(schema).type as string);
    const example = defaultShown(p, meta);
    if (numeric && !/^[+-]?\d+(\.\d+)?$/.test(raw.trim())) {
      issues.push(envIssue(name, raw, `${JSON.stringify(raw)} is not a number`, rule, example, !!meta.secret));
      continue;
    }
    const value = numeric ? Number(raw) : raw;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      issues.push(envIssue(name, raw, `${JSON.stringify(raw)} is ${parsed.error.issues[0].code === 'invalid_type' ? kindOf(value) : 'not allowed'}`, rule, example, !!meta.secret));
      continue;
    }
    let target = layer;
    for (const part of p.slice(0, -1)) target = (target[part] ??= {}) as Json;
    target[p.at(-1)!] = name === 'RAPPORT_DATA_DIR' ? path.resolve(raw) : parsed.data;
  }
  for (const spec of ENV_ONLY_VARS) {
    const raw = env[spec.name];
    if (raw === undefined || raw === '') continue;
    if (!spec.schema.safeParse(raw).success) {
      issues.push(envIssue(spec.name, raw, `${JSON.stringify(raw)} is not allowed`, spec.rule, spec.docDefault.startsWith('`') ? spec.docDefault.split('`')[1] : undefined, !!spec.secret));
    }
  }
  return { layer: layer as RapportConfigInput, issues };
}
