import { isObjectType, type GraphQLSchema } from 'graphql';
import { formatElement, parseElement, ValidationError, type DataElement, type Datum, type RapportPlugin } from '@rapport/core';

/** The datum a `derivesFrom` element stands for (a collection, a trait, an identity type or an event payload key). */
function datumOf(e: DataElement): Datum {
  return e.kind === 'event' ? { kind: 'eventKey', event: e.event, section: e.section, path: e.path } : e;
}

/**
 * Fields that derive from data elements, `Type.field` -> data: declared on the resolver with
 * `@Extensions({ derivesFrom: ['events'] })`, or in a plugin's `fields: [{ ..., derivesFrom }]`.
 * An element that is not one throws, naming the field, the element and the rule.
 */
export function derivedFieldsOf(schema: GraphQLSchema, plugins: RapportPlugin[]): Map<string, Datum[]> {
  const out = new Map<string, Datum[]>();
  const add = (type: string, field: string, elements: unknown) => {
    if (!Array.isArray(elements) || !elements.length) return;
    const list = out.get(`${type}.${field}`) ?? [];
    for (const el of elements) {
      try {
        list.push(datumOf(parseElement(String(el))));
      } catch (err) {
        throw new ValidationError('derivesFrom', 'element', `${type}.${field} derives from ${(err as Error).message}`);
      }
    }
    const seen = new Set<string>();
    out.set(`${type}.${field}`, list.filter((d) => !seen.has(formatElement(d)) && !!seen.add(formatElement(d))));
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const f of Object.values(type.getFields())) add(type.name, f.name, f.extensions?.derivesFrom);
  }
  for (const p of plugins) for (const f of p.fields ?? []) add(f.type, f.field, f.derivesFrom);
  return out;
}
