/**
 * What a plugin's resolver may read of core through its request, beyond its own tables: profile roots
 * (whose fields the field guard decides, as for `profile(id)`) and a trait as SQL for set queries (decided
 * as the guard decides `traits.<key>`). Both are `RequestContext` members, built here for {@link createContext}.
 */
import { MAX_TRAIT_KEY_CHARS, Permission, RapportError, traitValueSql, ValidationError, type Datum, type ProfileRecord } from '@rapport/core/internal';
import type { RapportContext } from '../context';
import { AccessDecider } from './access-decider';

/** The part of a request context these reads use. */
type ReadCtx = Pick<RapportContext, 'caller' | 'can' | 'guard'> & { loaders: Pick<RapportContext['loaders'], 'profile'> };

/** Refuses a caller whose roles do not grant `profiles:read`, naming the argument that asked. */
function requireProfilesRead(ctx: ReadCtx, argument: string): void {
  if (ctx.can(Permission.ProfilesRead)) return;
  throw new RapportError(
    'FORBIDDEN',
    `${argument}: reads profile data, which needs the "${Permission.ProfilesRead}" permission; roles [${ctx.caller.roles.join(', ')}] do not grant it`,
    argument,
    'permission',
  );
}

/**
 * `RequestContext.profilesById`: the live profile of each id, through the request's profile loader
 * (one statement per batch, shared with `profile(id)` and every other read of the request; merged-away
 * ids give the profile they were merged into; unknown, deleted or malformed ids give null).
 */
export async function loadProfileRoots(ctx: ReadCtx, ids: readonly string[]): Promise<Array<ProfileRecord | null>> {
  requireProfilesRead(ctx, 'profiles');
  if (ids.length === 0) return [];
  const found = await ctx.loaders.profile.loadMany(ids);
  return found.map((p) => {
    if (p instanceof Error) throw p;
    return p;
  });
}

/**
 * `RequestContext.traitSql`: the trait `key` of the profile in `profileColumn` as a SQL expression,
 * after the decision the field guard makes for `Profile.traits.<key>` with this request's roles and
 * purpose. `argument` names the caller's input in errors (`breakdown.trait`).
 *
 * - A caller without `profiles:read`: FORBIDDEN, rule `permission`.
 * - A trait the caller may not read whatever the person's consent (a role, purpose or default denial,
 *   rules 1, 3 and 4 of the guard): FORBIDDEN, rule `role`, `purpose` or `default`, with the guard's reason.
 * - A trait that is personal data (`pii` on a policy governing it, or `consent.piiTraits`): FORBIDDEN,
 *   rule `pii`. Every allowed read of personal data is audited per person and field; a set query's reads
 *   cannot be (the host does not see which rows, nor whether only aggregates leave the plugin), so
 *   personal data is read per person through `Profile` fields, which audit it.
 * - A trait whose policy needs the person's consent for the request's purpose (rule 5): the expression is
 *   NULL for every person whose consent state does not allow it, as `ctx.consent.sql` decides.
 * - Otherwise: the value for everyone.
 *
 * Without a field guard (a server started for benchmarks without it) no decision is made.
 */
export function guardedTraitSql(ctx: ReadCtx, profileColumn: string, key: string, argument: string): string {
  requireProfilesRead(ctx, argument);
  if (typeof key !== 'string' || key.trim() === '' || key.length > MAX_TRAIT_KEY_CHARS) {
    throw new ValidationError(argument, 'length', `a trait key is 1 to ${MAX_TRAIT_KEY_CHARS} characters, not blank`);
  }
  // The guard reads a dotted path as a nested trait; the SQL reads one top-level key. Refuse the ambiguity.
  if (key.includes('.')) throw new ValidationError(argument, 'topLevel', 'a top-level trait key, without dots (nested paths are not supported)');
  const guard = ctx.guard;
  if (!guard) return sqlOf(profileColumn, key, null, argument);
  const d: Datum = { kind: 'trait', path: key };
  const v = guard.decider.staticDatum(d);
  if (v.kind === 'forbidden') {
    throw new RapportError('FORBIDDEN', `${argument}: reads ${AccessDecider.nameOf(d)}, which this caller may not read: ${v.reason}`, argument, v.rule);
  }
  if (guard.decider.piiTrait(key)) {
    throw new RapportError(
      'FORBIDDEN',
      `${argument}: ${AccessDecider.nameOf(d)} is personal data: its reads are audited per person, which a set query cannot be; read it through Profile fields`,
      argument,
      'pii',
    );
  }
  return sqlOf(profileColumn, key, v.kind === 'consent' ? v.purpose : null, argument);
}

function sqlOf(profileColumn: string, key: string, purpose: string | null, argument: string): string {
  try {
    return traitValueSql(profileColumn, key, purpose);
  } catch (err) {
    // A bad profileColumn is the plugin's mistake (a RangeError, as ctx.consent.sql throws); a bad key is the caller's.
    if (err instanceof RangeError && /trait key/.test(err.message)) throw new ValidationError(argument, 'text', err.message);
    throw err;
  }
}
