/**
 * A funnel's breakdown: by an event property (first- or last-touch, read from the plugin's store) or by a trait (the
 * person's current value, read through the host's guarded `RequestContext.traitSql`). Checked here; the property
 * breakdown's SQL is in funnel.query.ts.
 */
import { ValidationError } from '@rapport/core';
import type { RequestContext } from '@rapport/schema';
import type { Attribution } from './funnel.definition';

/** Longest property or trait key, in characters. */
const MAX_KEY_CHARS = 200;

/** The breakdown argument as GraphQL hands it over. */
export interface BreakdownArgs {
  property?: string | null;
  trait?: string | null;
  attribution?: Attribution | null;
}

/** A checked breakdown: at most one of the two is set. */
export interface CheckedBreakdown {
  breakdown: { property: string; attribution: Attribution } | null;
  /** The trait key of a breakdown by trait. Attribution does not apply: a trait has one current value per person. */
  breakdownTrait: string | null;
}

function checkKey(field: string, v: string): string {
  if (v.trim() === '' || v.length > MAX_KEY_CHARS) throw new ValidationError(field, 'length', `must be 1 to ${MAX_KEY_CHARS} characters, not blank`);
  return v;
}

/** Checks a breakdown: exactly one of `property` and `trait`; a bad one throws a ValidationError naming it and the rule. */
export function checkBreakdown(b: BreakdownArgs | null | undefined): CheckedBreakdown {
  if (!b) return { breakdown: null, breakdownTrait: null };
  const hasProperty = b.property !== undefined && b.property !== null;
  const hasTrait = b.trait !== undefined && b.trait !== null;
  if (hasProperty === hasTrait) {
    throw new ValidationError('breakdown', 'oneOf', hasTrait ? 'give property or trait, not both' : 'give property (an event property) or trait (a profile trait)');
  }
  if (hasTrait) return { breakdown: null, breakdownTrait: checkKey('breakdown.trait', b.trait!) };
  return { breakdown: { property: checkKey('breakdown.property', b.property!), attribution: b.attribution ?? 'first_touch' }, breakdownTrait: null };
}

/**
 * The breakdown value of a trait breakdown in the funnel's `ok` step: the host's expression for the person's profile
 * column (`g.profile_id`). Throws when the caller did not pass the expression: a trait breakdown is only run with it.
 */
export function traitPick(trait: string, sql: ((profileColumn: string) => string) | undefined): string {
  if (!sql) throw new Error(`funnelSql: the breakdown by trait "${trait}" needs opts.trait, the request's guarded trait SQL`);
  return sql('g.profile_id');
}

/** What the request offers a breakdown by trait: the host's guarded trait SQL. */
type TraitReader = Pick<RequestContext, 'traitSql'>;

/**
 * The funnel SQL's `trait` option for a breakdown by `trait` (none without one). The host decides the caller's access
 * here, before any SQL runs: a trait the caller may not read throws a FORBIDDEN error naming `breakdown.trait` and
 * the rule (`role`, `purpose`, `default`, `pii` or `permission`).
 */
export function traitBreakdownOption(ctx: TraitReader, trait: string | null | undefined): { trait?: (profileColumn: string) => string } {
  if (!trait) return {};
  const sql = (profileColumn: string) => ctx.traitSql(profileColumn, trait, 'breakdown.trait');
  sql('g.profile_id');
  return { trait: sql };
}
