import { getNullableType, isNonNullType, isObjectType, isScalarType } from 'graphql';
import { Permission, ValidationError, checkFirst, consentStatesOf, deniedForPurpose, parseElement, type ConsentState, type Datum, type PolicyMask } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, Field, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphQLResolveInfo, GraphQLSchema } from 'graphql';
import type { RapportContext } from '../context';
import { AccessDecider } from '../guard/access-decider';
import { fieldDeclarationOf } from '../guard/field-guard';
import { JSONObjectScalar } from '../scalars';

@ObjectType('FieldPolicy')
export class FieldPolicyType {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true, description: 'The data element it governs (trait:email, identity:phone, event:<name>.properties.<path>, events, identities, traits); null for a plain GraphQL field.' })
  element: string | null;
  @Field({ description: 'GraphQL type (Profile for traits and collections), or "element" for identity and event elements.' }) type: string;
  @Field({ description: 'A field, traits.<key> for a trait, or the element name.' }) field: string;
  @Field(() => [String]) purposes: string[];
  @Field(() => [String]) roles: string[];
  @Field({ description: 'null, mask or hash: what a denied reader gets.' }) mask: string;
  @Field() pii: boolean;
  @Field() updatedAt: Date;
}

@InputType('FieldPolicyInput')
export class FieldPolicyInput {
  @Field(() => String, { nullable: true, description: 'A data element: trait:<key>, identity:<type>, event:<name or *>.<properties|context>.<path>, events, identities or traits. Or give type and field.' })
  element?: string | null;
  @Field(() => String, { nullable: true, description: 'GraphQL type, e.g. Profile (with field; not with element).' }) type?: string | null;
  @Field(() => String, { nullable: true, description: 'Field name, or traits.<key> (the legacy name of trait:<key>).' }) field?: string | null;
  @Field(() => [String], { defaultValue: [] }) purposes: string[];
  @Field(() => [String], { defaultValue: [] }) roles: string[];
  @Field({ defaultValue: 'null' }) mask: string;
  @Field({ defaultValue: false }) pii: boolean;
}

@ObjectType('AccessExplanation')
export class AccessExplanation {
  @Field() allowed: boolean;
  @Field(() => String, { nullable: true, description: 'FORBIDDEN_FIELD or CONSENT_REQUIRED when denied.' }) code: string | null;
  @Field({ description: 'The rule or consent that decided.' }) reason: string;
  @Field(() => JSONObjectScalar, { description: "The profile's consents at the time of asking (purpose -> effective: granted and not expired)." }) consents: Record<string, boolean>;
  @Field(() => JSONObjectScalar, { description: "The profile's consent state per decided purpose: granted, expired or denied (undecided purposes are absent)." })
  consentStates: Record<string, string>;
}

@ObjectType('AuditEntry')
export class AuditEntry {
  @Field(() => ID) id: string;
  @Field() at: Date;
  @Field() actor: string;
  @Field() action: string;
  @Field(() => ID, { nullable: true }) profileId: string | null;
  @Field(() => [String]) fields: string[];
  @Field(() => String, { nullable: true }) purpose: string | null;
  @Field(() => String, { nullable: true }) requestId: string | null;
}

/**
 * What `explainAccess` decides: a data element by its name (`trait:email`, `identity:email`,
 * `event:Signed Up.properties.plan`, `events`), else `Type.field` (`Profile.traits.email`,
 * `Profile.loyaltyTier`; a bare name is a `Profile` field), through the guard's decider. A field
 * without an admin policy is decided on its own declaration (`@Governed`, a plugin's `fields`), as
 * the guard decides it; a denial the field answers with its fallback says so.
 */
function explainTarget(target: string, decider: AccessDecider, states: Record<string, ConsentState>, schema: GraphQLSchema) {
  if (/^(trait|identity|event):/.test(target) || ['events', 'identities', 'traits'].includes(target)) {
    const e = parseElement(target);
    const d: Datum = e.kind === 'event' ? { kind: 'eventKey', event: e.event, section: e.section, path: e.path } : e;
    return decider.decideDatum(d, states);
  }
  const dot = target.indexOf('.');
  const [type, name] = dot > 0 ? [target.slice(0, dot), target.slice(dot + 1)] : ['Profile', target];
  const declaration = fieldDeclarationOf(schema, type, name);
  const d = decider.decide(type, name, states, declaration?.policy);
  if (declaration?.fallback && deniedForPurpose(d)) return { ...d, reason: `${d.reason}; the field answers with its declared fallback instead (no personal data for this purpose)` };
  return d;
}

/** Field policies, explanations of access, and the audit log. */
@Resolver()
export class PolicyResolver {
  @Authorized(Permission.PoliciesManage)
  @Query(() => [FieldPolicyType])
  fieldPolicies(@Ctx() ctx: RapportContext) {
    return ctx.services.policies.all();
  }

  @Authorized(Permission.PoliciesManage)
  @Mutation(() => FieldPolicyType, { description: 'Creates or replaces the policy of a field or trait key.' })
  setFieldPolicy(@Arg('input') input: FieldPolicyInput, @Ctx() ctx: RapportContext, @Info() info: GraphQLResolveInfo) {
    if (input.element && (input.type || input.field)) throw new ValidationError('element', 'oneOf', 'give either element, or type and field, not both');
    const t = input.type ? info.schema.getType(input.type) : null;
    const f = isObjectType(t) && input.field ? t.getFields()[input.field] : undefined;
    if (f && isNonNullType(f.type)) {
      throw new ValidationError('field', 'nullable', `${input.type}.${input.field} is non-null, so a denial would null its parent: policies apply to nullable fields (every Profile field but id is nullable)`);
    }
    const base = f ? getNullableType(f.type) : null;
    const scalar = !base || (isScalarType(base) && base.name !== 'JSONObject');
    if (f && input.mask && input.mask !== 'null' && !scalar && !['traits', 'events', 'identities'].includes(input.field!)) {
      throw new ValidationError('mask', 'fits', `${input.type}.${input.field}: a "${input.mask}" mask applies to a single value (a trait or a scalar field); this field is an object or a list, use "null"`);
    }
    return ctx.services.policies.upsert({ ...input, mask: input.mask as PolicyMask }, (type, field) => {
      const t = info.schema.getType(type);
      return isObjectType(t) && field in t.getFields();
    });
  }

  @Authorized(Permission.PoliciesManage)
  @Mutation(() => FieldPolicyType, { description: 'Deletes a policy; the field follows the default again.' })
  deleteFieldPolicy(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext) {
    return ctx.services.policies.remove(id);
  }

  @Authorized(Permission.PoliciesManage)
  @Query(() => AccessExplanation, { description: 'Would this role, acting for this purpose, read this field of this profile? And why.' })
  async explainAccess(
    @Arg('profileId', () => ID) profileId: string,
    @Arg('field', { description: 'A data element (trait:email, identity:email, event:Order Completed.properties.total, events) or Type.field (Profile.traits.email, Profile.loyaltyTier)' }) field: string,
    @Arg('role') role: string,
    @Arg('purpose', () => String, { nullable: true, description: 'The purpose the read would act for; omitted: none.' }) purposeArg: string | null | undefined,
    @Ctx() ctx: RapportContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<AccessExplanation> {
    const purpose = purposeArg ?? null;
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(profileId)) {
      throw new ValidationError('profileId', 'uuid', `"${profileId}" is not a profile id`);
    }
    if (!ctx.services.roles.has(role)) throw new ValidationError('role', 'enum', `"${role}" is not a role; roles are ${ctx.services.roles.names().join(', ')}`);
    if (purpose !== null && !(await ctx.services.consent.purposeNames()).has(purpose)) {
      throw new ValidationError('purpose', 'enum', `"${purpose}" is not a purpose`);
    }
    const [policies, purposes, [consents]] = await Promise.all([
      ctx.services.policies.all(), ctx.services.consent.purposesCached(), ctx.services.consent.consentsOf([profileId]),
    ]);
    const decider = new AccessDecider({
      policies, roles: [role], purpose, piiTraits: ctx.core.config.consent.piiTraits, legalBasis: new Map(purposes.map((p) => [p.name, p.legalBasis])),
      unclassifiedEventKeys: ctx.core.config.consent.unclassifiedEventKeys,
    });
    const states = consentStatesOf(consents);
    const d = explainTarget(field, decider, states, info.schema);
    const effective = Object.fromEntries(Object.entries(states).map(([p, s]) => [p, s === 'granted']));
    return { allowed: d.allowed, code: d.code ?? null, reason: d.reason, consents: effective, consentStates: states };
  }

  @Authorized(Permission.PoliciesManage)
  @Query(() => [AuditEntry], { description: 'Reads of personal data and data-subject requests, newest first.' })
  async auditLog(
    @Ctx() ctx: RapportContext,
    @Arg('profileId', () => ID, { nullable: true }) profileId: string | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
  ) {
    checkFirst(first, 500);
    const rows = await ctx.core.db.query(
      `SELECT * FROM rapport_audit_log WHERE ($1::uuid IS NULL OR profile_id = $1) ORDER BY at DESC, id DESC LIMIT $2`,
      [profileId, first],
    );
    return rows.map((r) => ({
      id: String(r.id), at: r.at, actor: r.actor, action: r.action, profileId: r.profile_id, fields: r.fields, purpose: r.purpose, requestId: r.request_id,
    }));
  }
}
