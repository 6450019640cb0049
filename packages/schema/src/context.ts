import type { Logger } from '@rapport/core';
import type { ApiKeyRecord, RapportCore, RapportServices } from '@rapport/core/internal';
import { ForbiddenError, isGranted } from '@rapport/core/internal';
import { ConsentLoader, type Loaders } from './loaders/loaders';
import { RequestGuard } from './guard/field-guard';
import { guardedTraitSql, loadProfileRoots } from './guard/request-reads';
import type { Profile } from './types/profile.type';

/** Who is calling: the API key behind the request. */
export interface Caller {
  keyId: string;
  name: string;
  roles: string[];
  /** Purposes this key may act for (consent). */
  purposes: string[];
}

/**
 * Something worth telling the caller that did not stop the request (an unknown category, ...):
 * returned in the response's `extensions.warnings`, in the order given.
 */
export interface RequestWarning {
  /** A stable, machine-readable name (`UNKNOWN_CATEGORY`). */
  code: string;
  /** For people: what was odd and what happened instead. */
  message: string;
  /** The argument or input field it is about (`context.category`). */
  field?: string;
  /** The rule that was not met (`exists`). */
  rule?: string;
}

/**
 * What a plugin's resolvers may use of a request's context: who calls, for which purpose, the
 * request's loaders (typed per plugin with `createLoadersKey`), its logger, permission checks and
 * the person's consent. Core's services are not part of it.
 */
export interface RequestContext {
  requestId: string;
  caller: Caller;
  /** The purpose the request acts for, when it names one. */
  purpose: string | null;
  /** Request-scoped loaders; plugins' are under `plugins`, by plugin name. */
  loaders: { plugins: Record<string, unknown> };
  logger: Logger;
  /** True when the caller's roles grant the permission. */
  can(permission: string): boolean;
  /** Throws FORBIDDEN unless the caller's roles grant the permission. */
  require(permission: string): void;
  /**
   * A profile's consent, read fresh for this request (batched): `allows('personalization')` is
   * true only for a granted, unexpired decision. Plugins use it to keep data of a denied purpose out.
   */
  consentOf(profileId: string): Promise<{ allows(purpose: string): boolean }>;
  /**
   * Adds a warning to the response's `extensions.warnings` (the same warning twice is kept once).
   * For odd input a resolver answered anyway; an error is still thrown for input it refuses.
   */
  warn(warning: RequestWarning): void;
  /** The warnings added so far. */
  readonly warnings: readonly RequestWarning[];
  /**
   * Profiles by id, to return from a resolver as `Profile` (in a `ProfileConnection`, say): the same
   * roots `profile(id)` returns, so the field guard decides every field of them for this request as it
   * does there (policies, roles, the request's purpose, each person's consent, audit of personal data).
   * Batched through the request's profile loader (one statement for the ids asked in one tick, shared
   * with the request's other profile reads). A merged-away id gives the profile it was merged into
   * (two ids may give the same profile); an unknown, deleted or malformed id gives null. Return the
   * objects as they are: reading their data in the plugin would bypass the guard.
   *
   * @throws RapportError FORBIDDEN (field `profiles`, rule `permission`) unless the caller's roles grant `profiles:read`.
   */
  profilesById(ids: readonly string[]): Promise<Array<Profile | null>>;
  /**
   * The current value of the top-level trait `key`, as text, of the profile in `profileColumn` (a column
   * reference such as `g.profile_id`), as a SQL expression for the plugin's own set queries, after the
   * decision the field guard makes for `Profile.traits.<key>` with this request's roles and purpose:
   * `SELECT ${ctx.traitSql('g.profile_id', 'plan', 'breakdown.trait')} AS plan, count(*) FROM ... GROUP BY 1`.
   *
   * - Throws a FORBIDDEN RapportError whose `field` is `argument` (the caller's input that named the
   *   trait) and whose `rule` is `permission` (the caller lacks `profiles:read`), `default`, `role` or
   *   `purpose` (the guard's denial, with its reason), or `pii` (personal data: its reads are audited
   *   per person, which a set query cannot be). A key that is blank, over 200 characters or dotted is a
   *   VALIDATION_FAILED error on `argument`.
   * - The expression is NULL for each person whose consent does not allow the request's purpose when the
   *   trait's policy needs it (the legal-basis rule of `ctx.consent.sql`), for an absent trait, and for a
   *   value that is null, an object or an array; a string, number or boolean gives its text (`->>`).
   *   A policy's mask is not applied: a denied value is NULL.
   * - For aggregates: publish counts over groups of people (k-anonymous), never one person's value.
   *
   * @throws RangeError when `profileColumn` is not a column reference (a mistake in the plugin).
   */
  traitSql(profileColumn: string, key: string, argument: string): string;
}

/** The per-request GraphQL context every resolver receives (core's resolvers use all of it). */
export interface RapportContext extends RequestContext {
  core: RapportCore;
  services: RapportServices;
  /** Request-scoped DataLoaders: every child read is batched through them. */
  loaders: Loaders;
  /** The field guard of this request (policies, roles, purpose, consents). */
  guard?: RequestGuard;
}

/** Builds a context for a verified key. */
export function createContext(args: {
  core: RapportCore;
  key: ApiKeyRecord;
  requestId: string;
  purpose: string | null;
  loaders: (ctx: Omit<RapportContext, 'loaders' | 'consentOf' | 'profilesById' | 'traitSql'>) => Loaders;
  logger: Logger;
  guard?: (
    loadConsents: (profileId: string) => Promise<import('@rapport/core/internal').ConsentRecord[]>,
    peekConsents: (profileId: string) => import('@rapport/core/internal').ConsentRecord[] | undefined,
  ) => RequestGuard | Promise<RequestGuard>;
}): Promise<RapportContext> | RapportContext {
  const { core, key } = args;
  const caller: Caller = { keyId: key.id, name: key.name, roles: key.roles, purposes: key.purposes };
  const warnings: RequestWarning[] = [];
  const base = {
    warnings,
    warn: (w: RequestWarning) => {
      const same = (x: RequestWarning) => x.code === w.code && x.message === w.message && x.field === w.field && x.rule === w.rule;
      if (!warnings.some(same)) warnings.push({ ...w });
    },
    requestId: args.requestId,
    caller,
    purpose: args.purpose,
    core,
    services: core.services,
    logger: args.logger,
    can: (p: string) => core.services.roles.can(caller.roles, p),
    require: (p: string) => {
      if (!core.services.roles.can(caller.roles, p)) throw new ForbiddenError(p, caller.roles);
    },
  };
  const ctx = Object.assign(base, {
    loaders: null as unknown as Loaders,
    consentOf: null as unknown as RapportContext['consentOf'],
    profilesById: null as unknown as RapportContext['profilesById'],
    traitSql: null as unknown as RapportContext['traitSql'],
  });
  // The guard is attached below, once built: both read it when called.
  const reads = ctx as typeof ctx & Pick<RapportContext, 'guard'>;
  ctx.profilesById = (ids) => loadProfileRoots(reads, ids);
  ctx.traitSql = (profileColumn, key, argument) => guardedTraitSql(reads, profileColumn, key, argument);
  ctx.loaders = args.loaders(base as Omit<RapportContext, 'loaders' | 'consentOf' | 'profilesById' | 'traitSql'>);
  ctx.consentOf = async (profileId: string) => {
    const consents = await ctx.loaders.consents.load(profileId);
    return { allows: (purpose: string) => isGranted(consents.find((c) => c.purpose === purpose)) };
  };
  if (!args.guard) return ctx;
  const consents = ctx.loaders.consents;
  const peek = consents instanceof ConsentLoader ? (id: string) => consents.peek(id) : () => undefined;
  const attach = (guard: RequestGuard) => {
    guard.decider.configure({ unclassifiedEventKeys: core.config.consent.unclassifiedEventKeys });
    return Object.assign(ctx, { guard });
  };
  const guard = args.guard((id) => consents.load(id), peek);
  return guard instanceof RequestGuard ? attach(guard) : guard.then(attach);
}
