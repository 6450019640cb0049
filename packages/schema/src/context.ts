import type { Logger } from '@rapport/core';
import type { ApiKeyRecord, RapportCore, RapportServices } from '@rapport/core/internal';
import { ForbiddenError, isGranted } from '@rapport/core/internal';
import type { Loaders } from './loaders/loaders';
import type { RequestGuard } from './guard/field-guard';

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
  loaders: (ctx: Omit<RapportContext, 'loaders' | 'consentOf'>) => Loaders;
  logger: Logger;
  guard?: (loadConsents: (profileId: string) => Promise<import('@rapport/core/internal').ConsentRecord[]>) => Promise<RequestGuard>;
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
  const ctx = Object.assign(base, { loaders: null as unknown as Loaders, consentOf: null as unknown as RapportContext['consentOf'] });
  ctx.loaders = args.loaders(base as Omit<RapportContext, 'loaders' | 'consentOf'>);
  ctx.consentOf = async (profileId: string) => {
    const consents = await ctx.loaders.consents.load(profileId);
    return { allows: (purpose: string) => isGranted(consents.find((c) => c.purpose === purpose)) };
  };
  if (!args.guard) return ctx;
  return args.guard((id) => ctx.loaders.consents.load(id)).then((guard) => {
    guard.decider.configure({ unclassifiedEventKeys: core.config.consent.unclassifiedEventKeys });
    return Object.assign(ctx, { guard });
  });
}
