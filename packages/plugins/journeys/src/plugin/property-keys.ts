/**
 * The `properties` option, applied to what a caller asks: step filters, exclusions, breakdowns and stage rules may use
 * only the property keys it lists (when it lists any). Checked before any SQL is written, so a filter on a key left out
 * is an error naming the argument, not a funnel that silently counts nobody.
 */
import { ValidationError } from '@rapport/core';
import type { FunnelSpec } from './funnel.definition';
import type { JourneySpec } from './journey-definition';

/** Throws a ValidationError naming the first use of a key `kept` does not list (`kept` null: every key may be used). */
export function checkPropertyKeys(kept: ReadonlySet<string> | null, uses: Iterable<[field: string, key: string]>): void {
  if (!kept) return;
  for (const [field, key] of uses) {
    if (!kept.has(key)) {
      throw new ValidationError(field, 'properties', `journeys reads only the event properties its \`properties\` option lists; ${JSON.stringify(key.slice(0, 80))} is not one`);
    }
  }
}

/** The property keys a funnel uses, with the argument each is in. */
export function* funnelPropertyUses(spec: FunnelSpec): Generator<[string, string]> {
  for (const [i, s] of spec.steps.entries()) for (const [j, f] of s.where.entries()) yield [`steps[${i}].where[${j}].property`, f.property];
  for (const [i, x] of spec.exclusions.entries()) for (const [j, f] of x.where.entries()) yield [`exclusions[${i}].where[${j}].property`, f.property];
  if (spec.breakdown) yield ['breakdown.property', spec.breakdown.property];
}

/** The property keys a journey's rules use, with the field each is in (`prefix`: the input's path). */
export function* journeyPropertyUses(spec: JourneySpec, prefix = 'input'): Generator<[string, string]> {
  for (const [i, s] of spec.stages.entries()) {
    for (const [j, c] of s.when.entries()) {
      const conditions = c.kind === 'anyOf'
        ? c.groups.flatMap((g, k) => g.map((inner, l) => [`${prefix}.stages[${i}].when[${j}].anyOf[${k}].when[${l}]`, inner] as const))
        : [[`${prefix}.stages[${i}].when[${j}]`, c] as const];
      for (const [field, inner] of conditions) {
        if (inner.kind !== 'event') continue;
        for (const [m, f] of inner.where.entries()) yield [`${field}.where[${m}].property`, f.property];
      }
    }
  }
}
