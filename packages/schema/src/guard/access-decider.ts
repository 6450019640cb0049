import { createHash } from 'node:crypto';
import { AbilityBuilder, createMongoAbility, subject, type MongoAbility } from '@casl/ability';
import type { FieldPolicy, PolicyMask } from '@rapport/core';

/** The verdict on one field for one profile. */
export interface AccessDecision {
  allowed: boolean;
  /** Why it was denied: the caller may not read it, or the profile did not consent. */
  code?: 'FORBIDDEN_FIELD' | 'CONSENT_REQUIRED';
  /** Which rule or consent decided, in words. */
  reason: string;
  mask: PolicyMask;
  /** Reads are audited. */
  pii: boolean;
}

export interface DeciderInput {
  policies: FieldPolicy[];
  roles: string[];
  /** The purpose the request acts for, if it names one. */
  purpose: string | null;
  /** Legal basis per purpose: a purpose not based on consent needs no grant, only no denial. */
  legalBasis: Map<string, string>;
  /** Trait keys that are personal data (config). */
  piiTraits: string[];
}

type Consents = Record<string, boolean | undefined>;

/**
 * Decides field access for one request, with CASL: the rules are built once per request from the
 * caller's roles, the purpose it acts for and the field policies; each check then matches the
 * profile's consents as the rule's condition. Deny by default applies to PII traits without a
 * policy (admins excepted); fields with no policy are open to any role that may reach them.
 */
export class AccessDecider {
  private readonly ability: MongoAbility;
  private readonly byKey = new Map<string, FieldPolicy>();
  private readonly pii: Set<string>;
  private readonly admin: boolean;

  constructor(private readonly input: DeciderInput) {
    this.admin = input.roles.includes('admin');
    this.pii = new Set(input.piiTraits);
    for (const p of input.policies) this.byKey.set(`${p.type}.${p.field}`, p);
    const { can, cannot, build } = new AbilityBuilder(createMongoAbility);
    can('read', 'all');
    if (!this.admin) {
      for (const k of input.piiTraits) {
        if (!this.byKey.has(`Profile.traits.${k}`)) cannot('read', 'Profile', `traits.${k}`).because(`traits.${k} is personal data with no policy: denied by default`);
      }
    }
    for (const p of input.policies) {
      const roleOk = this.roleOk(p);
      const purposeOk = p.purposes.length === 0 || (input.purpose !== null && p.purposes.includes(input.purpose));
      cannot('read', p.type, p.field).because(
        !roleOk
          ? `policy ${p.type}.${p.field} allows roles [${p.roles.join(', ')}], not [${input.roles.join(', ')}]`
          : !purposeOk
            ? `policy ${p.type}.${p.field} serves purposes [${p.purposes.join(', ')}]; the request acts for ${input.purpose ?? 'no purpose'}`
            : `the profile has not granted "${input.purpose}" (policy ${p.type}.${p.field})`,
      );
      if (!roleOk || !purposeOk) continue;
      if (p.purposes.length === 0) can('read', p.type, p.field);
      else if ((input.legalBasis.get(input.purpose!) ?? 'consent') === 'consent') can('read', p.type, p.field, { [`consent.${input.purpose}`]: true });
      else can('read', p.type, p.field, { [`consent.${input.purpose}`]: { $ne: false } });
    }
    this.ability = build();
  }

  /** True when some policy or default could deny this field (so the guard must look). */
  guarded(type: string, field: string): boolean {
    return this.byKey.has(`${type}.${field}`) || (type === 'Profile' && field.startsWith('traits.') && this.pii.has(field.slice(7)) && !this.admin);
  }

  /** True when a trait key is personal data (config `piiTraits`, or a policy marking it PII). */
  piiTrait(key: string): boolean {
    return this.byKey.get(`Profile.traits.${key}`)?.pii ?? this.pii.has(key);
  }

  /** Trait keys of `traits` that need a decision. */
  guardedTraits(keys: string[]): string[] {
    return keys.filter((k) => this.guarded('Profile', `traits.${k}`));
  }

  /** Decides one field for a profile with these consents (granted and unexpired -> true, denied -> false). */
  decide(type: string, field: string, consents: Consents = {}): AccessDecision {
    const policy = this.byKey.get(`${type}.${field}`);
    const pii = policy?.pii ?? (type === 'Profile' && field.startsWith('traits.') && this.pii.has(field.slice(7)));
    const mask = policy?.mask ?? 'null';
    const subj = subject(type, { consent: consents });
    if (this.ability.can('read', subj, field)) {
      return { allowed: true, reason: policy ? `policy ${type}.${field} allows it` : 'no policy: open', mask, pii };
    }
    const rule = this.ability.relevantRuleFor('read', subj, field);
    const reason = rule?.reason ?? 'denied';
    const consentOnly = !!policy && this.roleOk(policy) && policy.purposes.length > 0 && this.input.purpose !== null && policy.purposes.includes(this.input.purpose);
    return { allowed: false, code: consentOnly ? 'CONSENT_REQUIRED' : 'FORBIDDEN_FIELD', reason, mask, pii };
  }

  private roleOk(p: FieldPolicy): boolean {
    return this.admin || p.roles.length === 0 || p.roles.some((r) => this.input.roles.includes(r));
  }
}

/** What a denied reader sees instead of a value. */
export function maskValue(value: unknown, mask: PolicyMask): unknown {
  if (mask === 'null' || value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (mask === 'hash') return createHash('sha256').update(text).digest('hex');
  const at = text.indexOf('@');
  if (at > 0) return `${text[0]}***${text.slice(at)}`;
  return text.length <= 2 ? '***' : `${text[0]}***${text[text.length - 1]}`;
}
