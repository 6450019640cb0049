import { defaultFieldResolver, getNullableType, GraphQLError, isNonNullType, isObjectType, isScalarType, type GraphQLFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import {
  consentStatesOf, deniedForPurpose, eventElementName, redactEventField, redactExplanation, redactMergeReason, redactTraits, redactTraitValue, ValidationError,
  type ConsentRecord, type Datum, type PurposeRecord, type EventDataField, type EventRecord, type FieldPolicy, type RapportConfig, type RapportPlugin, type RapportServices,
} from '@rapport/core/internal';
import { AccessDecider, maskValue, type AccessDecision, type ConsentStates, type DeclaredPolicy } from './access-decider';
import { fieldDeclarationsOf, type DeclaredField } from './field-declarations';
import { fallbackRoot } from './governed';

/** Per-request guard state: the decider, the errors and audit entries the request collects. */
export class RequestGuard {
  readonly errors: GraphQLError[] = [];
  private readonly states = new Map<string, Promise<ConsentStates>>();
  private readonly loaded = new Map<string, ConsentStates>();
  private readonly audited = new Map<string, Set<string>>();
  private readonly reported = new Set<string>();

  constructor(
    readonly decider: AccessDecider,
    private readonly loadConsents: (profileId: string) => Promise<ConsentRecord[]>,
    /** The profile's consents if the request already read them (with the profile), without a promise. */
    private readonly peekConsents?: (profileId: string) => ConsentRecord[] | undefined,
  ) {}

  /**
   * The profile's consent states per purpose (`granted`, `expired`, `denied`; a purpose never
   * decided is absent), read fresh per request. What each state allows depends on the purpose's
   * legal basis, decided in core (`basisAllows`).
   */
  consentsOf(profileId: string): Promise<ConsentStates> {
    // Once per profile and request: every guarded field of the profile (and of its events) asks.
    let states = this.states.get(profileId);
    if (!states) {
      states = this.loadConsents(profileId).then((records) => {
        const s = consentStatesOf(records);
        this.loaded.set(profileId, s);
        return s;
      });
      this.states.set(profileId, states);
    }
    return states;
  }

  /**
   * The profile's consent states if this request already has them (see {@link consentsOf}): read
   * with the profile (its statement brings them), they are at hand before any field asks.
   */
  loadedConsents(profileId: string): ConsentStates | undefined {
    const known = this.loaded.get(profileId);
    if (known || !this.peekConsents) return known;
    const records = this.peekConsents(profileId);
    if (!records) return undefined;
    const s = consentStatesOf(records);
    this.loaded.set(profileId, s);
    return s;
  }

  /**
   * {@link AccessDecider.decideDatum}: the decider remembers each datum's decision per consent state,
   * shared by the requests of its policy snapshot, caller and purpose, so nothing is built per read.
   */
  decideDatum(d: Datum, consents: ConsentStates): AccessDecision {
    return this.decider.decideDatum(d, consents);
  }

  /** Records a denial as an error on the field's path (once per datum and path, list indices aside). */
  deny(info: GraphQLResolveInfo, field: string, d: Pick<AccessDecision, 'code' | 'reason'>): void {
    const path = pathOf(info);
    const key = `${field}|${d.code}|${path.filter((p) => typeof p === 'string').join('.')}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.errors.push(new GraphQLError(`${field}: ${d.reason}`, { path, extensions: { code: d.code, field, reason: d.reason } }));
  }

  /** Remembers a PII read for the audit log. */
  audit(profileId: string, field: string): void {
    let set = this.audited.get(profileId);
    if (!set) this.audited.set(profileId, (set = new Set()));
    set.add(field);
  }

  /** PII reads of this request, per profile. */
  auditEntries(): Array<{ profileId: string; fields: string[] }> {
    return [...this.audited].map(([profileId, fields]) => ({ profileId, fields: [...fields].sort() }));
  }

  /**
   * A filter that keeps the data of one profile this request may read: each denial becomes an
   * error on `info`'s path, each allowed PII read an audit entry.
   */
  keeper(info: GraphQLResolveInfo, profileId: string | undefined, consents: ConsentStates): (d: Datum) => boolean {
    return (d) => {
      const v = this.decider.decideDatum(d, consents);
      // The datum's name is built only when it is reported (a denial) or audited (a PII read).
      if (!v.allowed) this.deny(info, AccessDecider.nameOf(d), v);
      else if (v.pii && profileId) this.audit(profileId, AccessDecider.nameOf(d));
      return v.allowed;
    };
  }
}

function pathOf(info: GraphQLResolveInfo): Array<string | number> {
  const out: Array<string | number> = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) out.unshift(p.key);
  return out;
}

/** The profile an object belongs to: a Profile itself, a merge's survivor, or anything carrying `profileId`. */
function profileIdOf(type: string, parent: unknown): string | undefined {
  if (!parent || typeof parent !== 'object') return undefined;
  const o = parent as Record<string, unknown>;
  const id = type === 'Profile' ? o.id : type === 'Merge' ? o.survivorId : o.profileId;
  return typeof id === 'string' ? id : undefined;
}

type GuardCtx = { guard?: RequestGuard; core?: { config: RapportConfig } };

/** Trait paths a match comparison reads (its paths and swapped paths), from the configured comparisons. */
function comparisonTraits(ctx: GuardCtx): (name: string) => string[] {
  const comparisons = ctx.core?.config.identity.matching.config.comparisons ?? [];
  return (name) => {
    const c = comparisons.find((x) => x.name === name);
    return c ? [...c.paths, ...(c.swapPaths ?? [])].flatMap((p) => p.split(' ')) : [name];
  };
}

/** Fields whose value is redacted datum by datum, rather than decided as a whole. */
const DATA_FIELDS = new Set([
  'Profile.traits', 'Profile.trait', 'Profile.identities', 'Profile.events',
  'Event.userId', 'Event.anonymousId', 'Event.properties', 'Event.traits', 'Event.context',
  'Merge.reason', 'MatchCandidate.explanation',
]);

/** What the fields of each guarded schema declare about themselves (for `explainAccess`). */
const declarationsBySchema = new WeakMap<GraphQLSchema, Map<string, DeclaredField>>();

/** What `Type.field` of a schema {@link applyFieldGuard} guarded declares about itself, if anything. */
export function fieldDeclarationOf(schema: GraphQLSchema, type: string, field: string): DeclaredField | undefined {
  return declarationsBySchema.get(schema)?.get(`${type}.${field}`);
}

/**
 * Applies the field guard to every field of every object type of the composed schema, core and
 * plugins alike, so a plugin's field is covered without its author doing anything. A denied field
 * resolves to null (or its mask) and adds a FORBIDDEN_FIELD or CONSENT_REQUIRED error with the
 * field's path. Personal data is decided per data element wherever it appears (traits, identities,
 * event payloads, merge reasons, match explanations), and a field that derives from data elements
 * (`derivesFrom`) is denied when any of them is. A field's own declaration (`@Governed`, or a
 * plugin's `fields`) is its policy when no admin policy names it; a field with a declared fallback
 * serves it, without an error, when it is denied only because of its purpose or the person's consent.
 */
export function applyFieldGuard(schema: GraphQLSchema, plugins: RapportPlugin[] = []): GraphQLSchema {
  const declarations = fieldDeclarationsOf(schema, plugins);
  declarationsBySchema.set(schema, declarations);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      // Any field of a profile may be denied, so none (but its id) may be non-null: a denied
      // non-null field would null the whole profile instead of just itself.
      if (type.name === 'Profile' && field.name !== 'id') field.type = getNullableType(field.type);
      const original: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      const typeName = type.name;
      const fieldName = field.name;
      const key = `${typeName}.${fieldName}`;
      const declaration = declarations.get(key);
      const derives = declaration?.derives ?? [];
      const declared = declaration?.policy ?? null;
      if (declared && DATA_FIELDS.has(key)) {
        throw new ValidationError('field', 'element', `${key} holds data elements: govern them with policies on the elements, not with a declaration on the field`);
      }
      if (declared && isNonNullType(field.type)) {
        throw new ValidationError('field', 'nullable', `${key} is non-null, so a denial would null its parent: declare a policy on nullable fields only`);
      }
      // Only a single scalar can carry a mask; objects and lists of a denied field resolve to null.
      const nullable = getNullableType(field.type);
      const spec: FieldSpec = {
        type: typeName,
        field: fieldName,
        key,
        redaction: REDACTIONS[key] ?? 'none',
        maskable: isScalarType(nullable) && nullable.name !== 'JSONObject',
        derives,
        declared,
        withFallback: declaration?.fallback === true,
        original,
        lastDecider: null,
        lastGuarded: false,
      };
      const holdsData = DATA_FIELDS.has(key) || derives.length > 0;
      field.resolve = (parent, args, ctx: GuardCtx, info) => {
        const guard = ctx?.guard;
        if (!guard) return original(parent, args, ctx, info);
        if (!holdsData && !ownPolicy(spec, guard.decider)) return original(parent, args, ctx, info);
        return guarded(spec, guard, parent, args as Record<string, unknown>, ctx, info);
      };
    }
  }
  return schema;
}

/** How a field's allowed value is redacted datum by datum (`none`: kept as it is). */
type Redaction = 'traits' | 'identities' | 'eventData' | 'mergeReason' | 'none';
const REDACTIONS: Record<string, Redaction> = {
  'Profile.traits': 'traits',
  'Profile.identities': 'identities',
  'Event.userId': 'eventData',
  'Event.anonymousId': 'eventData',
  'Event.properties': 'eventData',
  'Event.traits': 'eventData',
  'Event.context': 'eventData',
  'Merge.reason': 'mergeReason',
};

/** What the guard knows of one field, built once per schema (a read allocates no description of it). */
interface FieldSpec {
  type: string;
  field: string;
  /** `Type.field`. */
  key: string;
  redaction: Redaction;
  maskable: boolean;
  derives: Datum[];
  /** The field's declared policy: its default, replaced by an admin policy on the field. */
  declared: DeclaredPolicy | null;
  /** Whether a denial for the purpose or consent serves the field's declared fallback. */
  withFallback: boolean;
  /** The field's own resolver. */
  original: GraphQLFieldResolver<unknown, unknown>;
  /** The last decider asked whether a policy names the field, and its answer ({@link ownPolicy}). */
  lastDecider: AccessDecider | null;
  lastGuarded: boolean;
}

/**
 * Whether a policy names the field itself (an admin's, or its declaration): it depends only on the
 * decider (its policy snapshot), so the answer is remembered for the last one, which the requests of
 * one caller and purpose share, instead of being looked up on every read of every event.
 */
function ownPolicy(spec: FieldSpec, decider: AccessDecider): boolean {
  if (spec.lastDecider !== decider) {
    spec.lastGuarded = decider.guarded(spec.type, spec.field, spec.declared);
    spec.lastDecider = decider;
  }
  return spec.lastGuarded;
}

/**
 * Applies `f` to a value now, or once it resolves when it is a promise or any thenable (as
 * graphql-js tells them apart), so a synchronous field stays synchronous and an asynchronous one
 * is never redacted before it has a value.
 */
function then<T>(v: unknown, f: (x: unknown) => T): T | Promise<T> {
  return typeof (v as PromiseLike<unknown> | null)?.then === 'function' ? Promise.resolve(v).then(f) : f(v);
}

/**
 * Guards one field read. Synchronous when the profile's consents are already loaded for this
 * request (after its first guarded field) and the field's resolver is: a page of events then
 * costs no promise per guarded field of each event.
 */
function guarded(spec: FieldSpec, guard: RequestGuard, parent: unknown, args: Record<string, unknown>, ctx: GuardCtx, info: GraphQLResolveInfo): unknown {
  if (spec.key === 'MatchCandidate.explanation') return guardedExplanation(spec, guard, parent, args, ctx, info);
  const profileId = profileIdOf(spec.type, parent);
  if (!profileId) return decided(spec, guard, parent, args, ctx, info, undefined, {});
  const known = guard.loadedConsents(profileId);
  return known
    ? decided(spec, guard, parent, args, ctx, info, profileId, known)
    : guard.consentsOf(profileId).then((c) => decided(spec, guard, parent, args, ctx, info, profileId, c));
}

/** A match explanation: each side's compared traits decided for its own profile. */
async function guardedExplanation(spec: FieldSpec, guard: RequestGuard, parent: unknown, args: Record<string, unknown>, ctx: GuardCtx, info: GraphQLResolveInfo): Promise<unknown> {
  const c = parent as { profileA?: string; profileB?: string };
  const [a, b] = await Promise.all([c.profileA, c.profileB].map((id) => (id ? guard.consentsOf(id) : Promise.resolve({}))));
  const value = await spec.original(parent, args, ctx, info);
  if (!Array.isArray(value)) return value;
  return redactExplanation(value, guard.keeper(info, c.profileA, a), guard.keeper(info, c.profileB, b), comparisonTraits(ctx));
}

/** The decision on one field read, for a profile (if any) in these consent states. */
function decided(
  spec: FieldSpec, guard: RequestGuard, parent: unknown, args: Record<string, unknown>, ctx: GuardCtx, info: GraphQLResolveInfo,
  profileId: string | undefined, consents: ConsentStates,
): unknown {
  const { type, field } = spec;

  if (spec.key === 'Profile.trait') {
    const key = String(args.key);
    const d = guard.decideDatum({ kind: 'trait', path: key }, consents);
    if (!d.allowed) {
      guard.deny(info, `Profile.traits.${key}`, d);
      return d.mask === 'null' ? null : then(spec.original(parent, args, ctx, info), (v) => maskValue(v, d.mask));
    }
    if (d.pii && profileId) guard.audit(profileId, `Profile.traits.${key}`);
    const keep = guard.keeper(info, profileId, consents);
    return then(spec.original(parent, args, ctx, info), (value) => {
      const v = redactTraitValue(key, value, keep, (x) => guard.decider.nested(x));
      return v === undefined ? null : v;
    });
  }

  // The field as a whole: its own policy (an admin's, else its declaration), then what it derives from.
  let denials: Array<{ d: AccessDecision; own: boolean; reason: string }> | null = null;
  let own: AccessDecision | null = null;
  if (ownPolicy(spec, guard.decider)) {
    own = guard.decider.decide(type, field, consents, spec.declared);
    if (!own.allowed) (denials ??= []).push({ d: own, own: true, reason: own.reason });
  }
  for (const datum of spec.derives) {
    const d = guard.decideDatum(datum, consents);
    if (!d.allowed) (denials ??= []).push({ d, own: false, reason: `derives from ${AccessDecider.nameOf(datum)}: ${d.reason}` });
  }
  if (denials) {
    // Denied only because of the purpose or the person's consent (rules 4 and 5): the declared
    // fallback is the answer, with no error and no audit entry (it reads nothing of the person's
    // for that purpose). A role or default denial (rules 1 and 3) anywhere stays a denial. The
    // fallback runs through the field's own resolver chain (its @Authorized check and middlewares
    // first), where @Governed's middleware answers a fallback root with the fallback.
    if (spec.withFallback && denials.every((x) => deniedForPurpose(x.d))) return spec.original(fallbackRoot(type, profileId), args, ctx, info);
    const first = (spec.withFallback && denials.find((x) => !deniedForPurpose(x.d))) || denials[0];
    guard.deny(info, spec.key, { code: first.d.code, reason: first.reason });
    return !first.own || first.d.mask === 'null' || !spec.maskable ? null : then(spec.original(parent, args, ctx, info), (v) => maskValue(v, first.d.mask));
  }
  if (own?.pii && profileId) guard.audit(profileId, spec.key);

  const value = spec.original(parent, args, ctx, info);
  if (spec.redaction === 'none') return value;
  if (spec.key === 'Event.properties' && wholePayload(guard, parent as EventRecord, 'properties', consents)) return (parent as EventRecord).properties ?? {};
  const keep = guard.keeper(info, profileId, consents);
  return then(value, (v) => redacted(spec, guard, parent, ctx, v, keep));
}

/**
 * True when every key of the event's payload section may be read as it is, decided once for the
 * section ({@link AccessDecider.payloadSection}): no policy names a key of it on its own, and the
 * decision the keys share allows them without an audit entry. Otherwise they are decided key by key
 * (a denial names each key, a read of personal data audits each). An alias's `previousId` is an
 * identity, not a payload key, so an alias is always decided key by key.
 */
function wholePayload(guard: RequestGuard, e: EventRecord, section: 'properties' | 'context', consents: ConsentStates): boolean {
  if (e.type === 'alias') return false;
  const d = guard.decider.payloadSection(eventElementName(e), section, consents);
  return d !== undefined && d.allowed && !d.pii;
}

/** The allowed value of a data field, with each datum the request may not read taken out. */
function redacted(spec: FieldSpec, guard: RequestGuard, parent: unknown, ctx: GuardCtx, value: unknown, keep: (d: Datum) => boolean): unknown {
  if (value === null || value === undefined) return value;
  switch (spec.redaction) {
    case 'traits':
      return redactTraits(value as Record<string, unknown>, keep, (x: Datum) => guard.decider.nested(x));
    case 'identities':
      return (value as Array<{ type: string }>).filter((i) => keep({ kind: 'identity', type: i.type }));
    case 'eventData':
      return redactEventField(parent as EventRecord, spec.field as EventDataField, keep, (x: Datum) => guard.decider.nested(x));
    case 'mergeReason':
      return redactMergeReason(value as Record<string, unknown>, keep, comparisonTraits(ctx));
    default:
      return value;
  }
}

/**
 * Builds a request's guard from the current policies, the caller and its purpose: at once (no
 * promise) while the policy and purpose snapshots are fresh, which is nearly every request.
 */
export function createRequestGuard(
  services: RapportServices,
  caller: { roles: string[] },
  purpose: string | null,
  piiTraits: string[],
  loadConsents: (profileId: string) => Promise<ConsentRecord[]>,
  peekConsents?: (profileId: string) => ConsentRecord[] | undefined,
): RequestGuard | Promise<RequestGuard> {
  const policies = services.policies.fresh();
  const purposes = services.consent.purposesFresh();
  if (policies && purposes) return new RequestGuard(deciderFor(policies, purposes, caller.roles, purpose, piiTraits), loadConsents, peekConsents);
  return Promise.all([services.policies.all(), services.consent.purposesCached()]).then(
    ([p, u]) => new RequestGuard(deciderFor(p, u, caller.roles, purpose, piiTraits), loadConsents, peekConsents),
  );
}

/**
 * The decider of a policy and purpose snapshot (new arrays when they reload), the caller's roles,
 * the purpose and the config's PII traits: requests alike share one, and its prepared verdicts.
 * A key's roles are one array for as long as its record is cached, so the usual lookup is by that
 * array's identity; other callers with the same roles find the same decider by their value.
 */
function deciderFor(policies: FieldPolicy[], purposes: PurposeRecord[], roles: string[], purpose: string | null, piiTraits: string[]): AccessDecider {
  let byPurposes = deciders.get(policies);
  if (!byPurposes) deciders.set(policies, (byPurposes = new WeakMap()));
  let snapshot = byPurposes.get(purposes);
  if (!snapshot) byPurposes.set(purposes, (snapshot = { byValue: new Map(), byRoles: new WeakMap() }));
  let byPurpose = snapshot.byRoles.get(roles);
  if (!byPurpose) snapshot.byRoles.set(roles, (byPurpose = new Map()));
  const known = byPurpose.get(purpose);
  if (known && known.piiTraits === piiTraits) return known.decider;
  const key = JSON.stringify([roles, purpose, piiTraits]);
  let decider = snapshot.byValue.get(key);
  if (!decider) {
    if (snapshot.byValue.size >= 1000) snapshot.byValue.clear();
    decider = new AccessDecider({ policies, roles, purpose, piiTraits, legalBasis: new Map(purposes.map((p) => [p.name, p.legalBasis])) });
    snapshot.byValue.set(key, decider);
  }
  if (byPurpose.size >= 100) byPurpose.clear();
  byPurpose.set(purpose, { piiTraits, decider });
  return decider;
}

interface SnapshotDeciders {
  /** By roles, purpose and PII traits, as JSON (bounded). */
  byValue: Map<string, AccessDecider>;
  /** By a roles array's identity, then purpose. */
  byRoles: WeakMap<string[], Map<string | null, { piiTraits: string[]; decider: AccessDecider }>>;
}

const deciders = new WeakMap<FieldPolicy[], WeakMap<PurposeRecord[], SnapshotDeciders>>();
