import { isNonNullType, isObjectType } from 'graphql';
import { Permission, ValidationError, checkFirst, type FieldPolicy } from '@rapport/core';
import { Arg, Authorized, Ctx, Field, ID, Info, InputType, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import type { GraphQLResolveInfo } from 'graphql';
import type { RapportContext } from '../context';
import { AccessDecider } from '../guard/access-decider';
import { JSONObjectScalar } from '../scalars';

@ObjectType('FieldPolicy')
export class FieldPolicyType {
  @Field(() => ID) id: string;
  @Field() type: string;
  @Field({ description: 'A field, or traits.<key> for a custom trait.' }) field: string;
  @Field(() => [String]) purposes: string[];
  @Field(() => [String]) roles: string[];
  @Field({ description: 'null, mask or hash: what a denied reader gets.' }) mask: string;
  @Field() pii: boolean;
  @Field() updatedAt: Date;
}

@InputType('FieldPolicyInput')
export class FieldPolicyInput {
  @Field({ description: 'GraphQL type, e.g. Profile.' }) type: string;
  @Field({ description: 'Field name, or traits.<key>.' }) field: string;
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
  @Field(() => JSONObjectScalar, { description: "The profile's consents at the time of asking (purpose -> granted)." }) consents: Record<string, boolean>;
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
    const t = info.schema.getType(input.type);
    if (isObjectType(t) && input.field in t.getFields() && isNonNullType(t.getFields()[input.field].type)) {
      throw new ValidationError('field', 'nullable', `${input.type}.${input.field} is non-null, so a denial would null its parent: policies apply to nullable fields (every Profile field but id is nullable)`);
    }
    return ctx.services.policies.upsert(input as FieldPolicy, (type, field) => {
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
    @Arg('field', { description: 'Type.field or Profile.traits.<key>, e.g. Profile.traits.email' }) field: string,
    @Arg('role') role: string,
    @Arg('purpose', () => String, { nullable: true }) purpose: string | null,
    @Ctx() ctx: RapportContext,
  ): Promise<AccessExplanation> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(profileId)) {
      throw new ValidationError('profileId', 'uuid', `"${profileId}" is not a profile id`);
    }
    if (!ctx.services.roles.has(role)) throw new ValidationError('role', 'enum', `"${role}" is not a role; roles are ${ctx.services.roles.names().join(', ')}`);
    if (purpose !== null && !(await ctx.services.consent.purposeNames()).has(purpose)) {
      throw new ValidationError('purpose', 'enum', `"${purpose}" is not a purpose`);
    }
    const dot = field.indexOf('.');
    const [type, name] = dot > 0 ? [field.slice(0, dot), field.slice(dot + 1)] : ['Profile', field];
    const [policies, purposes, [consents]] = await Promise.all([
      ctx.services.policies.all(), ctx.services.consent.purposesCached(), ctx.services.consent.consentsOf([profileId]),
    ]);
    const decider = new AccessDecider({
      policies, roles: [role], purpose, piiTraits: ctx.core.config.consent.piiTraits, legalBasis: new Map(purposes.map((p) => [p.name, p.legalBasis])),
    });
    const map: Record<string, boolean> = {};
    const now = new Date();
    for (const c of consents) map[c.purpose] = c.granted && (!c.expiresAt || c.expiresAt > now);
    const d = decider.decide(type, name, map);
    return { allowed: d.allowed, code: d.code ?? null, reason: d.reason, consents: map };
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
