import { isPiiKey, piiKeySet } from './pii-key';
import { staticAccess, type StaticVerdict } from './access-decision';
import { elementOfPolicy, governs, namesDatum, type DataElement, type Datum } from './data-element';
import type { FieldPolicy } from './field-policy.service';

/** What decides a read of one trait key without a request: the policies, and who reads for what. */
export interface TraitAccessQuestion {
  /** Every field policy (the admin's, `rapport_field_policy`). */
  policies: readonly FieldPolicy[];
  /** Trait keys that are personal data (`consent.piiTraits`): denied by default when no policy names them. */
  piiTraits: readonly string[];
  /** The trait key (a top-level key or a dotted path). */
  key: string;
  /** The reader's roles. */
  roles: string[];
  /** The purpose the reader acts for. */
  purpose: string | null;
}

/** The static verdict on a trait read, and whether the trait is personal data. */
export interface TraitAccess {
  verdict: StaticVerdict;
  /** A policy governing the trait is marked `pii`, or the key is in `consent.piiTraits`. */
  pii: boolean;
}

/**
 * The part of the decision on `Profile.traits.<key>` that does not depend on the profile, made as the
 * field guard makes it for a request (the schema's `AccessDecider`): the policies that govern the trait
 * (its own, another name of it such as `identity:email`, a collection policy on `traits`), the default
 * denial of a personal-data trait no policy names, then roles and purposes through core's
 * {@link staticAccess}. The plugin host decides a plugin's trait reads with it.
 */
export function traitAccess(q: TraitAccessQuestion): TraitAccess {
  const d: Datum = { kind: 'trait', path: q.key };
  const governing: Array<{ element: DataElement; policy: FieldPolicy }> = [];
  for (const policy of q.policies) {
    let element: DataElement | null = null;
    try {
      element = elementOfPolicy(policy.type, policy.field);
    } catch {
      continue; // a row naming no valid element governs nothing (as in the guard)
    }
    if (element && governs(element, d)) governing.push({ element, policy });
  }
  const topKey = q.key.split('.')[0]!;
  const piiKey = isPiiKey(piiKeySet(q.piiTraits), topKey);
  const named = governing.some((g) => namesDatum(g.element, d));
  const byDefault = !named && piiKey
    ? { deny: true as const, reason: `traits.${topKey} is personal data with no policy: denied by default` }
    : { deny: false as const };
  const verdict = staticAccess({
    rules: governing.map(({ policy: p }) => ({ name: p.type === 'element' ? p.field : `${p.type}.${p.field}`, purposes: p.purposes, roles: p.roles })),
    byDefault,
    roles: q.roles,
    purpose: q.purpose,
    legalBasis: () => undefined, // the consent part is decided in SQL, from the purpose's stored legal basis
  });
  return { verdict, pii: piiKey || governing.some((g) => g.policy.pii) };
}
