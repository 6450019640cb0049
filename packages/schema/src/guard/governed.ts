import type { GraphQLResolveInfo } from 'graphql';
import { Extensions, UseMiddleware, type MiddlewareFn } from 'type-graphql';
import type { RapportContext, RequestContext } from '../context';

/**
 * What a fallback receives instead of the object the field belongs to: the id of the profile the
 * guard decided for, and nothing else of the object (not its traits, not what the caller was
 * denied). On `Profile` it is also `id`, as on a profile record.
 */
export interface FallbackRoot {
  /** The profile the object belongs to (`Profile.id`, a merge's survivor, or the object's `profileId`). */
  readonly profileId?: string;
  /** On `Profile` only: the profile's id (same as `profileId`). */
  readonly id?: string;
}

/**
 * Computes a field's value for a request the field is denied to because of its purpose (the
 * request does not act for one of the field's purposes, or the person's consent for that purpose
 * does not allow the read). It must not read the person's data for the denied purpose: it gets
 * the profile's id only, and its value is served as it is, without an error.
 */
export type FieldFallback<TArgs = Record<string, unknown>, TResult = unknown> = (
  root: FallbackRoot,
  args: TArgs,
  ctx: RequestContext,
  info: GraphQLResolveInfo,
) => TResult | Promise<TResult>;

/** The declaration of a governed field; see {@link Governed}. */
export interface GovernedOptions<TArgs = any> {
  /**
   * Purposes the field's data serves: a request must act for one of them, and the person's
   * consent state for it must allow the read (by the purpose's legal basis). Empty or omitted: no
   * purpose needed.
   */
  purposes?: string[];
  /** Roles that may read the field; empty or omitted: any role. `admin` always passes. */
  roles?: string[];
  /** Personal data: every allowed read is written to the audit log. */
  pii?: boolean;
  /**
   * Data elements the value is computed from (`events`, `traits`, `trait:<key>`, `identity:<type>`,
   * `event:<name>.<properties|context>.<path>`): the field is denied whenever one of them is.
   */
  derivesFrom?: string[];
  /**
   * Served instead of null when the field is denied because of its purpose or the person's
   * consent (rules 4 and 5), whether the field's own declaration, an admin's policy on it, or a
   * data element it derives from denied it. Never for a role or default denial (rules 1 and 3),
   * and only to a caller that passes the field's `@Authorized` permissions.
   */
  fallback?: FieldFallback<TArgs>;
}

/** The normalised declaration, as it rides on the field's `extensions.governed`. */
export interface GovernedSpec {
  readonly purposes: readonly string[];
  readonly roles: readonly string[];
  readonly pii: boolean;
  readonly derivesFrom: readonly string[];
  readonly fallback: FieldFallback | null;
}

/** The key of type-graphql's field extensions {@link Governed} writes. */
export const GOVERNED_EXTENSION = 'governed';

// Global symbols: they hold across copies of this module (as type-graphql's metadata storage does).
/** Set on specs {@link Governed} built, whose field therefore carries the fallback middleware. */
const WITH_MIDDLEWARE = Symbol.for('rapport.governed.middleware');
/** Set on the roots the guard makes for a fallback call. */
const FALLBACK_ROOT = Symbol.for('rapport.governed.fallbackRoot');

const strings = (what: string, v: unknown): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !x.trim())) throw new TypeError(`@Governed: ${what} must be an array of non-empty strings`);
  return [...new Set(v.map((x: string) => x.trim()))];
};

/**
 * Declares a field's policy and what it derives from, on the field itself:
 *
 * ```ts
 * @Governed({ purposes: ['personalization'], derivesFrom: ['events'], fallback: (root, args, ctx) => popular(args, ctx) })
 * @FieldResolver(() => [Recommendation])
 * recommendations(@Root() p: ProfileRecord, ...) { ... }
 * ```
 *
 * The declaration rides on the field's type-graphql extensions (`extensions.governed`); the field
 * guard reads it as the field's default policy, used when no admin policy names the field (an
 * admin's policy replaces it as a whole; `derivesFrom` always holds). A `fallback` runs as the
 * field's resolver would, after its `@Authorized` check and middlewares, through a middleware this
 * decorator adds; it is served instead of null when the field is denied because of its purpose or
 * the person's consent.
 */
export function Governed<TArgs = any>(options: GovernedOptions<TArgs>): MethodDecorator & PropertyDecorator {
  if (options.fallback !== undefined && typeof options.fallback !== 'function') throw new TypeError('@Governed: fallback must be a function');
  const spec: GovernedSpec = {
    purposes: Object.freeze(strings('purposes', options.purposes)),
    roles: Object.freeze(strings('roles', options.roles)),
    pii: options.pii === true,
    derivesFrom: Object.freeze(strings('derivesFrom', options.derivesFrom)),
    fallback: (options.fallback as FieldFallback | undefined) ?? null,
  };
  Object.defineProperty(spec, WITH_MIDDLEWARE, { value: true });
  Object.freeze(spec);
  const extensions = Extensions({ [GOVERNED_EXTENSION]: spec });
  const middleware = spec.fallback ? UseMiddleware(fallbackMiddleware(spec.fallback)) : null;
  return ((target: object, key: string | symbol | undefined, descriptor?: PropertyDescriptor) => {
    if (key === undefined) throw new TypeError('@Governed applies to a field or a field resolver, not to a class');
    extensions(target, key, descriptor as never);
    middleware?.(target, key, descriptor as never);
  }) as MethodDecorator & PropertyDecorator;
}

/** Serves the fallback for the guard's fallback roots; anything else goes on to the resolver. */
function fallbackMiddleware(fallback: FieldFallback): MiddlewareFn<RapportContext> {
  return async ({ root, args, context, info }, next) => (isFallbackRoot(root) ? fallback(root, args, context, info) : next());
}

/** The field's declaration, when it carries one made by {@link Governed}. */
export function governedSpecOf(extensions: Readonly<Record<string, unknown>> | null | undefined): GovernedSpec | null {
  const spec = extensions?.[GOVERNED_EXTENSION] as GovernedSpec | undefined;
  if (!spec || typeof spec !== 'object') return null;
  return spec;
}

/** True when the field's resolver chain carries the fallback middleware (the spec came from {@link Governed}). */
export function servesFallback(spec: GovernedSpec | null): boolean {
  return !!spec && typeof spec.fallback === 'function' && (spec as unknown as Record<symbol, unknown>)[WITH_MIDDLEWARE] === true;
}

/** The root a fallback gets: the profile's id, nothing else of the object. */
export function fallbackRoot(type: string, profileId: string | undefined): FallbackRoot {
  const root: { profileId?: string; id?: string } = {};
  if (profileId !== undefined) {
    root.profileId = profileId;
    if (type === 'Profile') root.id = profileId;
  }
  Object.defineProperty(root, FALLBACK_ROOT, { value: true });
  return Object.freeze(root);
}

function isFallbackRoot(root: unknown): root is FallbackRoot {
  return typeof root === 'object' && root !== null && (root as Record<symbol, unknown>)[FALLBACK_ROOT] === true;
}
