/**
 * The people behind a funnel step, for `funnelProfiles`: the funnel's own per-person statement (`funnelSql` with its
 * `people` option, so the walk, the windows, the exclusions and the consent filter are the very ones the counts use),
 * ending in a keyset page of profile ids instead of the aggregates.
 */
import { checkFirst, decodeCursor, encodeCursor, ValidationError, type Page, type PluginContext } from '@rapport/core';
import type { FunnelSpec } from './funnel.definition';
import { funnelSql } from './funnel.query';

/** Most people per page. */
export const MAX_PROFILES_PAGE = 100;

/** Which people of a funnel: those who reached `step`, or (`dropped`) those who reached `step - 1` and not `step`. */
export interface FunnelPeopleSelection {
  /** 1-based. */
  step: number;
  dropped: boolean;
  first: number;
  /** The cursor of the last person of the previous page (absent or null: from the start). */
  after?: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks a selection against a funnel of `steps` steps; a bad one throws a ValidationError naming it and the rule.
 * Returns the profile id the page starts after, if any.
 */
export function checkPeopleSelection(sel: FunnelPeopleSelection, steps: number): string | null {
  if (!Number.isInteger(sel.step) || sel.step < 1 || sel.step > steps) throw new ValidationError('step', 'range', `must be 1 to ${steps} (the funnel's steps), got ${sel.step}`);
  if (sel.dropped && sel.step === 1) {
    throw new ValidationError('step', 'dropped', 'people drop at step 2 or later (reached the step before, not this one): nobody drops before entering');
  }
  checkFirst(sel.first, MAX_PROFILES_PAGE);
  if (sel.after == null) return null;
  const [id, ...rest] = decodeCursor(sel.after);
  if (typeof id !== 'string' || !UUID.test(id) || rest.length) throw new ValidationError('after', 'cursor', `"${sel.after}" is not a cursor this API issued`);
  return id;
}

/** The SQL of one page of the selection (exported for EXPLAIN and tests). */
export function funnelProfilesSql(ctx: Pick<PluginContext, 'consent' | 'events'>, spec: FunnelSpec, sel: FunnelPeopleSelection, afterId: string | null) {
  return funnelSql(ctx, { ...spec, breakdown: null, breakdownTrait: null }, {
    people: (add) => `
    SELECT o.profile_id::text AS profile_id FROM ok o
     WHERE ${sel.dropped ? `o.reached = ${add(sel.step - 1)}::int` : `o.reached >= ${add(sel.step)}::int`}
       ${afterId ? `AND o.profile_id > ${add(afterId)}::uuid` : ''}
     ORDER BY o.profile_id LIMIT ${add(sel.first + 1)}::int`,
  });
}

/** work_mem of the statement's transaction, as the funnel's (its per-person arrays are the same). */
const WORK_MEM = '64MB';

/**
 * One page of the people a selection names, in profile id order: consenting to analytics (the funnel's filter), each
 * with its cursor. Each page runs the funnel again (nothing is kept between pages), so a page reflects the store now.
 */
export async function runFunnelProfiles(ctx: PluginContext, spec: FunnelSpec, sel: FunnelPeopleSelection): Promise<Page<string>> {
  const afterId = checkPeopleSelection(sel, spec.steps.length);
  const { sql, params } = funnelProfilesSql(ctx, spec, sel, afterId);
  const rows = await ctx.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL work_mem = '${WORK_MEM}'`);
    return tx.query<{ profile_id: string }>(sql, params);
  });
  const nodes = rows.slice(0, sel.first).map((r) => r.profile_id);
  return { nodes, hasNextPage: rows.length > sel.first, cursors: nodes.map((id) => encodeCursor([id])) };
}
