import { ownValue } from '../ingestion/own-key';
import { basisAllows, basisDenialReason, effectiveBasis, type ConsentState, type LegalBasis } from './legal-basis';

/** One policy that names the datum being read (its roles and purposes). */
export interface AccessRule {
  /** How the policy is named in reasons, e.g. `Profile.traits.email` or `identity:email`. */
  name: string;
  purposes: string[];
  roles: string[];
}

/** A question about one datum, independent of any profile's consent. */
export interface AccessQuestion {
  /** Every policy naming the datum (under any of its names): each must allow the read. */
  rules: AccessRule[];
  /**
   * What applies when no policy names the datum itself (a collection policy in `rules` does not
   * count): `open`, or a default denial (a PII trait, an unclassified event payload key) with its
   * reason, which holds whatever collection policies say. `admin` passes a default denial.
   */
  byDefault: { deny: false } | { deny: true; reason: string };
  /** The caller's roles. */
  roles: string[];
  /** The purpose the request acts for, or null. */
  purpose: string | null;
  /** The legal basis of a purpose (undefined for an unknown purpose: treated as `consent`). */
  legalBasis(purpose: string): string | undefined;
}

/**
 * The part of a decision that does not depend on the profile: `allow`, `forbidden` (no consent
 * would open it to this caller), or `consent` (allowed exactly when the profile's consent state
 * for `purpose` is one of the states its legal basis accepts).
 */
export type StaticVerdict =
  | { kind: 'allow'; reason: string }
  | { kind: 'forbidden'; rule: Exclude<DenialRule, 'consent'>; reason: string }
  | { kind: 'consent'; purpose: string; basis: LegalBasis; policy: string };

/**
 * Which rule of the documented order denied a read:
 * - `default`: no policy names the datum and it is denied by default (a PII trait, an unclassified
 *   event payload key), rule 1;
 * - `role`: a governing policy does not allow any of the caller's roles, rule 3;
 * - `purpose`: a governing policy lists purposes and the request acts for none of them, rule 4;
 * - `consent`: the profile's consent state for the request's purpose is not one the purpose's
 *   legal basis accepts, rule 5.
 */
export type DenialRule = 'default' | 'role' | 'purpose' | 'consent';

/** The verdict on one datum for one profile. */
export interface AccessVerdict {
  allowed: boolean;
  /** FORBIDDEN_FIELD: the caller may not read it; CONSENT_REQUIRED: only the person's consent is missing. */
  code?: 'FORBIDDEN_FIELD' | 'CONSENT_REQUIRED';
  /** The rule that denied it (set on denials only). */
  rule?: DenialRule;
  reason: string;
}

/**
 * Decides what does not depend on the profile, in the documented order: default (no policy),
 * roles, purposes. Filters and lookups use it directly; {@link decideAccess} adds the consent.
 */
export function staticAccess(q: AccessQuestion): StaticVerdict {
  const admin = q.roles.includes('admin');
  // Rule 1: the default denial (set only when no policy names the datum itself) holds even when
  // a collection policy governs the datum: a policy on `traits` or `identities` does not name it.
  if (q.byDefault.deny && !admin) return { kind: 'forbidden', rule: 'default', reason: q.byDefault.reason };
  if (!q.rules.length) return { kind: 'allow', reason: 'no policy: open' };
  for (const r of q.rules) {
    if (!admin && r.roles.length && !r.roles.some((x) => q.roles.includes(x))) {
      return { kind: 'forbidden', rule: 'role', reason: `policy ${r.name} allows roles [${r.roles.join(', ')}], not [${q.roles.join(', ')}]` };
    }
  }
  for (const r of q.rules) {
    if (r.purposes.length && (q.purpose === null || !r.purposes.includes(q.purpose))) {
      return { kind: 'forbidden', rule: 'purpose', reason: `policy ${r.name} serves purposes [${r.purposes.join(', ')}]; the request acts for ${q.purpose ?? 'no purpose'}` };
    }
  }
  const needs = q.rules.find((r) => r.purposes.length);
  if (!needs || q.purpose === null) return { kind: 'allow', reason: `policy ${q.rules.map((r) => r.name).join(', ')} allows it` };
  return { kind: 'consent', purpose: q.purpose, basis: effectiveBasis(q.legalBasis(q.purpose)), policy: needs.name };
}

/**
 * The one access decision: may this caller, acting for this purpose, read this datum of a
 * profile whose consent states are `consent` (purpose -> state; an absent purpose is `none`)?
 * The guard, filters, lookups and `explainAccess` all decide through this function.
 */
export function decideAccess(q: AccessQuestion, consent: Readonly<Record<string, ConsentState>>): AccessVerdict {
  return completeVerdict(staticAccess(q), consent);
}

/** Finishes a static verdict with a profile's consent states. */
export function completeVerdict(v: StaticVerdict, consent: Readonly<Record<string, ConsentState>>): AccessVerdict {
  if (v.kind === 'allow') return { allowed: true, reason: v.reason };
  if (v.kind === 'forbidden') return { allowed: false, code: 'FORBIDDEN_FIELD', rule: v.rule, reason: v.reason };
  const state = ownValue(consent, v.purpose) ?? 'none'; // own keys: a purpose may be called `constructor`
  if (basisAllows(v.basis, state)) return { allowed: true, reason: `policy ${v.policy} allows it ("${v.purpose}", ${v.basis}, consent ${state})` };
  return { allowed: false, code: 'CONSENT_REQUIRED', rule: 'consent', reason: basisDenialReason(v.purpose, state, v.policy) };
}

/**
 * True when a verdict denies a read only because of its purpose: the request does not act for a
 * purpose the datum serves (rule 4), or the person's consent state for the request's purpose does
 * not allow it (rule 5). False when allowed, and for role and default denials (rules 1 and 3): a
 * caller who may not read the datum whatever the purpose and consent.
 */
export function deniedForPurpose(v: Pick<AccessVerdict, 'allowed' | 'rule'>): boolean {
  return !v.allowed && (v.rule === 'purpose' || v.rule === 'consent');
}
