import { isObjectType, type GraphQLSchema } from 'graphql';
import { formatElement, parseElement, ValidationError, type DataElement, type Datum, type RapportPlugin } from '@rapport/core/internal';
import type { DeclaredPolicy } from './access-decider';
import { governedSpecOf, servesFallback } from './governed';

/** What a field declares about itself, as the guard applies it. */
export interface DeclaredField {
  /** Its default policy (purposes, roles, pii), used when no admin policy names the field; null when it declares none. */
  policy: DeclaredPolicy | null;
  /** The data it derives from: the field is denied whenever one of them is. */
  derives: Datum[];
  /** It serves a fallback (declared with `@Governed({ fallback })`) instead of a purpose or consent denial. */
  fallback: boolean;
}

/** The datum a `derivesFrom` element stands for (a collection, a trait, an identity type or an event payload key). */
function datumOf(e: DataElement): Datum {
  return e.kind === 'event' ? { kind: 'eventKey', event: e.event, section: e.section, path: e.path } : e;
}

interface Part {
  source: string;
  purposes: string[];
  roles: string[];
  pii: boolean;
  derivesFrom: unknown[];
  fallback: boolean;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** One of `purposes` / `roles` from every part that gives a non-empty list: they must agree. */
function agreed(key: string, what: 'purposes' | 'roles', parts: Part[]): string[] {
  const given = parts.filter((p) => p[what].length);
  for (const p of given.slice(1)) {
    if (!sameSet(p[what], given[0][what])) {
      throw new ValidationError(what, 'conflict', `${key} is declared with ${what} [${given[0][what].join(', ')}] (${given[0].source}) and [${p[what].join(', ')}] (${p.source}): declare them once`);
    }
  }
  return given.length ? [...new Set(given[0][what])] : [];
}

/**
 * What fields declare about themselves, `Type.field` -> declaration: with `@Governed({ purposes,
 * roles, pii, derivesFrom, fallback })` (type-graphql extensions), with `@Extensions({ derivesFrom })`,
 * or in a plugin's `fields: [{ type, field, purposes, pii, derivesFrom }]`. The places may be combined:
 * `derivesFrom` adds up, `pii` holds if any says so, and `purposes` (or `roles`) given in two places
 * must be the same. A bad element, a declared field that is not in the schema, or a disagreement
 * throws, naming the field.
 */
export function fieldDeclarationsOf(schema: GraphQLSchema, plugins: RapportPlugin[]): Map<string, DeclaredField> {
  const parts = new Map<string, Part[]>();
  const add = (key: string, p: Part) => parts.set(key, [...(parts.get(key) ?? []), p]);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const f of Object.values(type.getFields())) {
      const key = `${type.name}.${f.name}`;
      const spec = governedSpecOf(f.extensions);
      if (spec) {
        if (spec.fallback && !servesFallback(spec)) {
          throw new ValidationError('fallback', 'decorator', `${key}: a fallback is declared with @Governed (it runs in the field's resolver chain), not in extensions written by hand`);
        }
        add(key, {
          source: '@Governed', purposes: list(spec.purposes), roles: list(spec.roles), pii: spec.pii === true,
          derivesFrom: Array.isArray(spec.derivesFrom) ? [...spec.derivesFrom] : [], fallback: servesFallback(spec),
        });
      }
      if (Array.isArray(f.extensions?.derivesFrom)) {
        add(key, { source: '@Extensions', purposes: [], roles: [], pii: false, derivesFrom: f.extensions.derivesFrom as unknown[], fallback: false });
      }
    }
  }
  for (const p of plugins) {
    for (const f of p.fields ?? []) {
      const t = schema.getType(f.type);
      if (!isObjectType(t) || !(f.field in t.getFields())) {
        throw new ValidationError('fields', 'exists', `plugin ${p.name} declares ${f.type}.${f.field}, which is not a field of the schema`);
      }
      const extra = f as { roles?: unknown };
      add(`${f.type}.${f.field}`, {
        source: `plugin ${p.name} fields`, purposes: list(f.purposes), roles: list(extra.roles), pii: f.pii === true, derivesFrom: f.derivesFrom ?? [], fallback: false,
      });
    }
  }

  const out = new Map<string, DeclaredField>();
  for (const [key, ps] of parts) {
    const purposes = agreed(key, 'purposes', ps);
    const roles = agreed(key, 'roles', ps);
    const pii = ps.some((p) => p.pii);
    const derives: Datum[] = [];
    const seen = new Set<string>();
    for (const el of ps.flatMap((p) => p.derivesFrom)) {
      let d: Datum;
      try {
        d = datumOf(parseElement(String(el)));
      } catch (err) {
        throw new ValidationError('derivesFrom', 'element', `${key} derives from ${(err as Error).message}`);
      }
      if (!seen.has(formatElement(d))) derives.push(d);
      seen.add(formatElement(d));
    }
    out.set(key, {
      policy: purposes.length || roles.length || pii ? { purposes, roles, pii } : null,
      derives,
      fallback: ps.some((p) => p.fallback),
    });
  }
  return out;
}
