import { defaultFieldResolver, getNullableType, GraphQLError, isObjectType, isScalarType, type GraphQLFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import { isGranted, type ConsentRecord, type RapportServices } from '@rapport/core';
import { AccessDecider, maskValue, type AccessDecision } from './access-decider';

type Consents = Record<string, boolean>;

/** Per-request guard state: the decider, the errors and audit entries the request collects. */
export class RequestGuard {
  readonly errors: GraphQLError[] = [];
  private readonly audited = new Map<string, Set<string>>();

  constructor(
    readonly decider: AccessDecider,
    private readonly loadConsents: (profileId: string) => Promise<ConsentRecord[]>,
  ) {}

  /**
   * The profile's consents as purpose -> true (granted, unexpired) or false (denied), read fresh
   * per request. An expired grant is no decision at all: it grants nothing, and denies nothing.
   */
  async consentsOf(profileId: string): Promise<Consents> {
    const out: Consents = {};
    for (const c of await this.loadConsents(profileId)) {
      if (isGranted(c)) out[c.purpose] = true;
      else if (!c.granted) out[c.purpose] = false;
    }
    return out;
  }

  /** Records a denial as an error on the field's path. */
  deny(info: GraphQLResolveInfo, field: string, d: AccessDecision): void {
    this.errors.push(
      new GraphQLError(`${field}: ${d.reason}`, {
        path: pathOf(info),
        extensions: { code: d.code, field, reason: d.reason },
      }),
    );
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
}

function pathOf(info: GraphQLResolveInfo): Array<string | number> {
  const out: Array<string | number> = [];
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) out.unshift(p.key);
  return out;
}

/** The profile an object belongs to: a Profile itself, or anything carrying `profileId`. */
function profileIdOf(type: string, parent: unknown): string | undefined {
  if (!parent || typeof parent !== 'object') return undefined;
  const o = parent as Record<string, unknown>;
  if (type === 'Profile') return typeof o.id === 'string' ? o.id : undefined;
  return typeof o.profileId === 'string' ? o.profileId : undefined;
}

/**
 * Applies the field guard to every field of every object type of the composed schema, core and
 * plugins alike, so a plugin's field is covered without its author doing anything. A denied field
 * resolves to null (or its mask) and adds a FORBIDDEN_FIELD or CONSENT_REQUIRED error with the
 * field's path; `traits` drops the keys the reader may not see; `trait(key)` is checked per key.
 */
export function applyFieldGuard(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      // Any field of a profile may be denied, so none (but its id) may be non-null: a denied
      // non-null field would null the whole profile instead of just itself.
      if (type.name === 'Profile' && field.name !== 'id') field.type = getNullableType(field.type);
      const original: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      const typeName = type.name;
      const fieldName = field.name;
      // Only a single scalar can carry a mask; objects and lists of a denied field resolve to null.
      const nullable = getNullableType(field.type);
      const maskable = isScalarType(nullable) && nullable.name !== 'JSONObject';
      field.resolve = (parent, args, ctx: { guard?: RequestGuard }, info) => {
        const guard = ctx?.guard;
        if (!guard) return original(parent, args, ctx, info);
        const special = typeName === 'Profile' && (fieldName === 'traits' || fieldName === 'trait');
        if (!special && !guard.decider.guarded(typeName, fieldName)) return original(parent, args, ctx, info);
        return guarded(guard, typeName, fieldName, maskable, original, parent, args as Record<string, unknown>, ctx, info);
      };
    }
  }
  return schema;
}

async function guarded(
  guard: RequestGuard,
  type: string,
  field: string,
  maskable: boolean,
  original: GraphQLFieldResolver<unknown, unknown>,
  parent: unknown,
  args: Record<string, unknown>,
  ctx: unknown,
  info: GraphQLResolveInfo,
): Promise<unknown> {
  const profileId = profileIdOf(type, parent);
  const consents = profileId ? await guard.consentsOf(profileId) : {};
  const name = type === 'Profile' && field === 'trait' ? `traits.${String(args.key)}` : field;
  if (guard.decider.guarded(type, field) || name !== field) {
    const d = guard.decider.decide(type, name, consents);
    if (!d.allowed) {
      guard.deny(info, `${type}.${name}`, d);
      return d.mask === 'null' || !maskable ? null : maskValue(await original(parent, args, ctx, info), d.mask);
    }
    if (d.pii && profileId) guard.audit(profileId, `${type}.${name}`);
  }
  const value = await original(parent, args, ctx, info);
  if (type !== 'Profile' || field !== 'traits' || !value || typeof value !== 'object') return value;
  const traits = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const guardedKeys = new Set(guard.decider.guardedTraits(Object.keys(traits)));
  for (const [k, v] of Object.entries(traits)) {
    if (!guardedKeys.has(k)) {
      // Readable without a decision (an admin, or no policy), but personal data is still audited.
      if (profileId && guard.decider.piiTrait(k)) guard.audit(profileId, `Profile.traits.${k}`);
      out[k] = v;
      continue;
    }
    const d = guard.decider.decide('Profile', `traits.${k}`, consents);
    if (!d.allowed) {
      guard.deny(info, `Profile.traits.${k}`, d);
      continue; // a denied trait is absent, not null
    }
    if (d.pii && profileId) guard.audit(profileId, `Profile.traits.${k}`);
    out[k] = v;
  }
  return out;
}

/** Builds a request's guard from the current policies, the caller and its purpose. */
export async function createRequestGuard(
  services: RapportServices,
  caller: { roles: string[] },
  purpose: string | null,
  piiTraits: string[],
  loadConsents: (profileId: string) => Promise<ConsentRecord[]>,
): Promise<RequestGuard> {
  const [policies, purposes] = await Promise.all([services.policies.all(), services.consent.purposesCached()]);
  const decider = new AccessDecider({
    policies, roles: caller.roles, purpose, piiTraits, legalBasis: new Map(purposes.map((p) => [p.name, p.legalBasis])),
  });
  return new RequestGuard(decider, loadConsents);
}
