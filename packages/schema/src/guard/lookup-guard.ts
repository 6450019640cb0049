import { allowingStates, normalizeIdentityType, RapportError, ValidationError, type Datum, type ProfileFilter, type ProfileRecord, type StaticVerdict } from '@rapport/core/internal';
import type { RapportContext } from '../context';
import { AccessDecider } from './access-decider';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** How deep a trait filter may nest (as stored traits: see the ingestion validator). */
const MAX_FILTER_DEPTH = 64;

/**
 * Leaf paths of a containment filter (`{ address: { city: 'X' } }` -> `address.city`), walked
 * without recursion; deeper than {@link MAX_FILTER_DEPTH} levels is a validation error.
 */
function leafPaths(root: Record<string, unknown>): string[] {
  const out: string[] = [];
  const stack: Array<[Record<string, unknown>, string, number]> = [[root, '', 1]];
  while (stack.length) {
    const [obj, prefix, depth] = stack.pop()!;
    if (depth > MAX_FILTER_DEPTH) throw new ValidationError('filter.traits', 'maxDepth', `nests deeper than ${MAX_FILTER_DEPTH} levels`);
    for (const [k, v] of Object.entries(obj)) {
      if (isObject(v) && Object.keys(v).length) stack.push([v, `${prefix}${k}.`, depth + 1]);
      else out.push(`${prefix}${k}`);
    }
  }
  return out;
}

function forbidden(what: string, field: string, d: Datum, v: Extract<StaticVerdict, { kind: 'forbidden' }>): RapportError {
  return new RapportError('FORBIDDEN', `${what} reads ${AccessDecider.nameOf(d)}, which this caller may not read: ${v.reason}`, field, 'FORBIDDEN_FIELD');
}

/**
 * Filters are reads. A filter on a datum the caller could not read with any consent is refused
 * (FORBIDDEN, decided before the value is looked at); on a datum that needs the profile's consent,
 * it matches only profiles whose consent state allows the read (the states the purpose's legal
 * basis accepts), so which profiles match says nothing about the others.
 */
export function guardFilter<F extends ProfileFilter>(filter: F, ctx: RapportContext): F {
  const guard = ctx.guard;
  if (!guard) return filter;
  const data: Array<[Datum, string]> = [
    ...leafPaths(filter.traits ?? {}).map((path): [Datum, string] => [{ kind: 'trait', path }, `filter.traits.${path}`]),
    ...(filter.identity ? [[{ kind: 'identity', type: normalizeIdentityType(filter.identity.type) }, 'filter.identity'] as [Datum, string]] : []),
    ...(filter.seenSince ? [[{ kind: 'collection', name: 'events' }, 'filter.seenSince'] as [Datum, string]] : []),
  ];
  let consent: ProfileFilter['consent'];
  for (const [d, field] of data) {
    const v = guard.decider.staticDatum(d);
    if (v.kind === 'forbidden') throw forbidden(`filter on ${field.slice(7)}`, field, d, v);
    // One request acts for one purpose, so every consent-based datum asks the same consent.
    if (v.kind === 'consent') consent = { purpose: v.purpose, states: allowingStates(v.basis) };
  }
  return consent ? { ...filter, consent } : filter;
}

/**
 * `profileByIdentity` is a read of the identity it names: for a caller who may not read that
 * identity type it is FORBIDDEN whatever the value (and before the value is looked up); for a
 * profile whose consent does not allow the read, it answers null, as for an unknown identity.
 */
export async function guardIdentityLookup(type: string, lookup: () => Promise<ProfileRecord | null>, ctx: RapportContext): Promise<ProfileRecord | null> {
  const guard = ctx.guard;
  if (!guard) return lookup();
  const d: Datum = { kind: 'identity', type: normalizeIdentityType(type) };
  const v = guard.decider.staticDatum(d);
  if (v.kind === 'forbidden') throw forbidden('profileByIdentity', 'type', d, v);
  const p = await lookup();
  if (!p || v.kind === 'allow') return p;
  return guard.decider.decideDatum(d, await guard.consentsOf(p.id)).allowed ? p : null;
}
