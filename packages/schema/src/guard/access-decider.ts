import { createHash } from 'node:crypto';
import { DatumMap } from './datum-map';
import {
  completeVerdict, elementOfPolicy, formatElement, governs, IDENTITY_TRAITS, isPiiKey, namesDatum, piiKeySet, staticAccess,
  type AccessQuestion, type ConsentState, type DataElement, type Datum, type DenialRule, type FieldPolicy, type PolicyMask, type StaticVerdict,
} from '@rapport/core/internal';

/** The verdict on one field or datum for one profile. */
export interface AccessDecision {
  allowed: boolean;
  /** Why it was denied: the caller may not read it, or the profile did not consent. */
  code?: 'FORBIDDEN_FIELD' | 'CONSENT_REQUIRED';
  /** The rule that denied it: `default`, `role`, `purpose` or `consent` (see core's `DenialRule`). */
  rule?: DenialRule;
  /** Which rule or consent decided, in words. */
  reason: string;
  mask: PolicyMask;
  /** Reads are audited. */
  pii: boolean;
}

/**
 * A field's own declaration of its policy (`@Governed({ purposes, roles, pii })`, or a plugin's
 * `fields` entry): the field's default policy, applied when no admin policy names the field. An
 * admin policy on the field replaces it as a whole.
 */
export interface DeclaredPolicy {
  purposes: string[];
  roles: string[];
  pii: boolean;
}

export interface DeciderInput {
  policies: FieldPolicy[];
  roles: string[];
  /** The purpose the request acts for, if it names one. */
  purpose: string | null;
  /** Legal basis per purpose (see `basisAllows` in core for what each basis needs). */
  legalBasis: Map<string, string>;
  /** Trait keys that are personal data (config). */
  piiTraits: string[];
  /**
   * Event payload keys no policy names (`consent.unclassifiedEventKeys`): `deny` for roles below
   * admin, or `allow`. Unset: taken from the configuration by `createContext`, else `allow`.
   */
  unclassifiedEventKeys?: 'allow' | 'deny';
}

/** A profile's consent states, purpose -> state (absent: no decision). */
export type ConsentStates = Readonly<Record<string, ConsentState>>;

interface Prepared {
  question: AccessQuestion;
  verdict: StaticVerdict;
  mask: PolicyMask;
  pii: boolean;
  /**
   * Decisions already made, by the consent state the verdict depends on (`''` when it depends on
   * none): a verdict that needs consent reads one purpose's state, so a datum has at most a handful
   * of possible decisions. They are frozen and shared by every request of this decider.
   */
  decisions: Map<string, AccessDecision>;
}

/**
 * Decides access for one request. Policies govern data elements (a trait, an identity type, an
 * event payload key, a collection) or plain GraphQL fields; every decision goes through core's
 * `decideAccess` (roles, purposes, then the legal basis of the purpose against the profile's
 * consent state), so the guard, filters, lookups and `explainAccess` cannot disagree.
 */
export class AccessDecider {
  private readonly fieldPolicies = new Map<string, FieldPolicy>();
  private readonly elementPolicies: Array<{ element: DataElement; policy: FieldPolicy }> = [];
  private readonly pii: ReadonlySet<string>;
  private readonly admin: boolean;
  private readonly prepared = new DatumMap<Prepared>(MAX_PREPARED);
  private readonly nestedPaths = new DatumMap<string[]>(MAX_PREPARED);
  /** Per event name and payload section: the verdict all its keys share, or null when keys may differ. */
  private readonly sections = new Map<string, { properties?: Prepared | null; context?: Prepared | null }>();
  private unclassified: 'allow' | 'deny' | undefined;

  constructor(private readonly input: DeciderInput) {
    this.admin = input.roles.includes('admin');
    this.pii = piiKeySet(input.piiTraits);
    this.unclassified = input.unclassifiedEventKeys;
    for (const p of input.policies) {
      let element: DataElement | null = null;
      try {
        element = elementOfPolicy(p.type, p.field);
      } catch {
        continue; // a row naming no valid element governs nothing (cannot be saved through the API)
      }
      if (element) this.elementPolicies.push({ element, policy: p });
      else this.fieldPolicies.set(`${p.type}.${p.field}`, p);
    }
  }

  /** Applies configuration defaults the input left unset. */
  configure(defaults: { unclassifiedEventKeys?: 'allow' | 'deny' }): void {
    if (this.unclassified !== undefined || defaults.unclassifiedEventKeys === undefined) return;
    this.unclassified = defaults.unclassifiedEventKeys;
    this.prepared.clear();
    this.sections.clear();
  }

  /** The caller is an admin. */
  get isAdmin(): boolean {
    return this.admin;
  }

  /** The purpose the request acts for. */
  get purpose(): string | null {
    return this.input.purpose;
  }

  /**
   * True when a policy names this plain GraphQL field, or the field declares its own (`declared`),
   * so the guard must decide it.
   */
  guarded(type: string, field: string, declared?: DeclaredPolicy | null): boolean {
    if (declared || this.fieldPolicies.has(`${type}.${field}`)) return true;
    if (type === 'Profile' && field.startsWith('traits.')) return true;
    return type === 'Profile' && ['events', 'identities', 'traits'].includes(field) && this.elementPolicies.some((e) => e.element.kind === 'collection' && e.element.name === field);
  }

  /** True when a trait key is personal data (config `piiTraits`, or a policy naming it marked PII). */
  piiTrait(key: string): boolean {
    return this.prepare({ kind: 'trait', path: key }).pii;
  }

  /** Deeper paths of a datum that policies name on their own (a read of the datum must check them too). */
  nested(d: Datum): string[] {
    if (d.kind !== 'trait' && d.kind !== 'eventKey') return NONE;
    // Asked for every key of every event read: remembered per datum (bounded like `prepared`).
    const known = this.nestedPaths.get(d);
    if (known) return known;
    const out = this.findNested(d);
    this.nestedPaths.set(d, out.length ? out : NONE);
    return out.length ? out : NONE;
  }

  private findNested(d: Datum): string[] {
    const out: string[] = [];
    for (const { element: e } of this.elementPolicies) {
      if (d.kind === 'trait' && e.kind === 'trait' && e.path.startsWith(`${d.path}.`)) out.push(e.path);
      if (d.kind === 'eventKey' && e.kind === 'event' && (e.event === '*' || e.event === d.event) && e.section === d.section) {
        const p = e.path.endsWith('.*') ? e.path.slice(0, -2) : e.path;
        if (p.startsWith(`${d.path}.`)) out.push(p);
      }
    }
    return out;
  }

  /** The part of a datum's decision that does not depend on the profile (filters and lookups). */
  staticDatum(d: Datum): StaticVerdict {
    return this.prepare(d).verdict;
  }

  /** Decides one datum for a profile in these consent states. */
  decideDatum(d: Datum, consents: ConsentStates = {}): AccessDecision {
    return this.decision(this.prepare(d), consents);
  }

  /**
   * The decision every key of an event's payload section gets, key by key as {@link decideDatum}
   * would make it, when no policy tells the section's keys apart: every policy on that event (or on
   * `*`) and section covers the whole section (`event:<name or *>.<section>.*`), or none exists. Then
   * no key is named on its own and no path below a key is (nothing {@link nested} would find).
   * Undefined when some policy names a key or a path of the section: decide key by key. The verdict
   * is the same for every key; only a denial's reason names the key, so a caller that reports denials
   * still decides key by key.
   */
  payloadSection(event: string, section: 'properties' | 'context', consents: ConsentStates = {}): AccessDecision | undefined {
    let known = this.sections.get(event);
    if (!known) {
      if (this.sections.size >= MAX_PREPARED) this.sections.clear();
      this.sections.set(event, (known = {}));
    }
    let p = known[section];
    if (p === undefined) {
      const uniform = this.elementPolicies.every(({ element: e }) => e.kind !== 'event' || e.section !== section || (e.event !== '*' && e.event !== event) || e.path === '*');
      // A key of the section stands for them all (the policies that govern it govern each of them).
      p = known[section] = uniform ? this.build({ kind: 'eventKey', event, section, path: '*' }) : null;
    }
    return p ? this.decision(p, consents) : undefined;
  }

  private decision(p: Prepared, consents: ConsentStates): AccessDecision {
    const v = p.verdict;
    // The decision depends only on the verdict and, when it needs consent, the state of its one purpose.
    const state = v.kind === 'consent' ? (consents[v.purpose] ?? 'none') : '';
    let decision = p.decisions.get(state);
    if (!decision) {
      decision = Object.freeze({ ...completeVerdict(v, consents), mask: p.mask, pii: p.pii });
      p.decisions.set(state, decision);
    }
    return decision;
  }

  /**
   * Decides a field (`Type.field`) or an element in field form (`Profile.traits.<key>`,
   * `Profile.events`, `Profile.identities`, `Profile.traits`) for a profile in these consent states.
   * `declared` is the field's own declaration: its policy when no admin policy names the field.
   */
  decide(type: string, field: string, consents: ConsentStates = {}, declared?: DeclaredPolicy | null): AccessDecision {
    const d = this.datumOfField(type, field);
    if (d) return this.decideDatum(d, consents);
    const p = this.fieldPolicy(type, field, declared);
    const question = this.question(p ? [p.rule] : [], { deny: false });
    return { ...completeVerdict(staticAccess(question), consents), mask: p?.mask ?? 'null', pii: p?.pii ?? false };
  }

  /** The static verdict of a field (or element in field form), as {@link decide} would start from. */
  staticField(type: string, field: string, declared?: DeclaredPolicy | null): StaticVerdict {
    const d = this.datumOfField(type, field);
    if (d) return this.staticDatum(d);
    const p = this.fieldPolicy(type, field, declared);
    return staticAccess(this.question(p ? [p.rule] : [], { deny: false }));
  }

  /**
   * The policy of a plain field: the admin's (`rapport_field_policy`), which wins as a whole, else
   * the field's declaration (named `Type.field [declared]` in reasons), else none.
   */
  private fieldPolicy(type: string, field: string, declared?: DeclaredPolicy | null) {
    const policy = this.fieldPolicies.get(`${type}.${field}`);
    if (policy) return { rule: this.rule(policy), mask: policy.mask, pii: policy.pii };
    if (!declared) return null;
    return { rule: { name: `${type}.${field} [declared]`, purposes: declared.purposes, roles: declared.roles }, mask: 'null' as PolicyMask, pii: declared.pii };
  }

  /** The datum a field form names, if it names one. */
  datumOfField(type: string, field: string): Datum | null {
    if (type !== 'Profile') return null;
    if (field.startsWith('traits.')) return { kind: 'trait', path: field.slice(7) };
    if (field === 'events' || field === 'identities' || field === 'traits') return { kind: 'collection', name: field };
    return null;
  }

  /** How a datum is named in errors: `Profile.traits.<key>`, `Profile.events`, `identity:email`, `event:...`. */
  static nameOf(d: Datum): string {
    if (d.kind === 'trait') return `Profile.traits.${d.path}`;
    if (d.kind === 'collection') return `Profile.${d.name}`;
    return formatElement(d);
  }

  private rule(p: FieldPolicy) {
    return { name: p.type === 'element' ? p.field : `${p.type}.${p.field}`, purposes: p.purposes, roles: p.roles };
  }

  private question(rules: AccessQuestion['rules'], byDefault: AccessQuestion['byDefault']): AccessQuestion {
    const { roles, purpose, legalBasis } = this.input;
    return { rules, byDefault, roles, purpose, legalBasis: (p) => legalBasis.get(p) };
  }

  private prepare(d: Datum): Prepared {
    const cached = this.prepared.get(d);
    if (cached) return cached;
    const prepared = this.build(d);
    this.prepared.set(d, prepared);
    return prepared;
  }

  private build(d: Datum): Prepared {
    // A decider lives as long as its policy snapshot (shared by the requests of a caller's roles and
    // purpose); data names (payload keys) are the caller's to choose, so the cache is bounded.
    const governing = this.elementPolicies.filter((e) => governs(e.element, d));
    const specific = governing.filter((e) => namesDatum(e.element, d));
    const traitKey = d.kind === 'trait' ? d.path.split('.')[0] : d.kind === 'identity' && (IDENTITY_TRAITS as readonly string[]).includes(d.type) ? d.type : null;
    let byDefault: AccessQuestion['byDefault'] = { deny: false };
    if (!specific.length && traitKey !== null && isPiiKey(this.pii, traitKey)) {
      byDefault = { deny: true, reason: `traits.${traitKey} is personal data with no policy: denied by default` };
    } else if (!specific.length && d.kind === 'eventKey' && this.unclassified === 'deny') {
      byDefault = { deny: true, reason: `${formatElement(d)} is an event payload key no policy classifies: denied below admin by default (consent.unclassifiedEventKeys)` };
    }
    // The mask of the most specific policy naming the datum itself.
    const exact = specific.find((e) => formatElement(e.element) === formatElement(d)) ?? specific[0];
    return {
      question: this.question(governing.map((e) => this.rule(e.policy)), byDefault),
      verdict: staticAccess(this.question(governing.map((e) => this.rule(e.policy)), byDefault)),
      mask: exact?.policy.mask ?? 'null',
      pii: governing.some((e) => e.policy.pii) || (traitKey !== null && isPiiKey(this.pii, traitKey)),
      decisions: new Map(),
    };
  }
}

const MAX_PREPARED = 10_000;
const NONE: string[] = Object.freeze([]) as unknown as string[];

/** What a denied reader sees instead of a value. */
export function maskValue(value: unknown, mask: PolicyMask): unknown {
  if (mask === 'null' || value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (mask === 'hash') return createHash('sha256').update(text).digest('hex');
  const at = text.indexOf('@');
  if (at > 0) return `${text[0]}***${text.slice(at)}`;
  return text.length <= 2 ? '***' : `${text[0]}***${text[text.length - 1]}`;
}
