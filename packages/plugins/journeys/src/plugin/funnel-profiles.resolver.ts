/** The `funnelProfiles` query: the people behind a funnel step, as guarded core profiles. */
import { Permission, ValidationError } from '@rapport/core';
import { ProfileConnection, type Profile, type RequestContext } from '@rapport/schema';
import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { checkPropertyKeys, funnelPropertyUses } from './property-keys';
import { checkFunnel, DEFAULT_WINDOW_SECONDS, type FunnelMode } from './funnel.definition';
import { MAX_PROFILES_PAGE, runFunnelProfiles } from './funnel-profiles.query';
import { FunnelExclusionInput, FunnelModeEnum, FunnelStepInput } from './funnel.types';
import { journeysLoaders } from './journeys.loaders';
import { PURPOSE, READ_PERMISSION } from './options';

@Resolver()
export class FunnelProfilesResolver {
  @Authorized(READ_PERMISSION, Permission.ProfilesRead)
  @Query(() => ProfileConnection, {
    description:
      'The people behind a funnel step (journeys plugin): who reached `step`, or with `dropped` who reached the step before and '
      + 'not `step`. Only people who allow analytics; in profile id order. Their fields are guarded as in `profile(id)`. '
      + 'Needs journeys:read and profiles:read, and a request acting for analytics. See docs/journeys.md.',
  })
  async funnelProfiles(
    @Ctx() ctx: RequestContext,
    @Arg('steps', () => [FunnelStepInput], { description: '2 to 10 steps.' }) steps: FunnelStepInput[],
    @Arg('step', () => Int, { description: 'The step (1-based).' }) step: number,
    @Arg('dropped', () => Boolean, { defaultValue: false, description: 'False: people who reached `step`. True: people who reached `step` - 1 and not `step` (step 2 or later).' })
    dropped: boolean,
    @Arg('windowSeconds', () => Int, { defaultValue: DEFAULT_WINDOW_SECONDS, description: 'Conversion window from the first step: 1 s to 365 days.' })
    windowSeconds: number,
    @Arg('mode', () => FunnelModeEnum, { defaultValue: FunnelModeEnum.ORDERED }) mode: FunnelModeEnum,
    @Arg('from', () => Date, { nullable: true, description: 'Only events at or after this time.' }) from: Date | null,
    @Arg('to', () => Date, { nullable: true, description: 'Only events before this time.' }) to: Date | null,
    @Arg('exclusions', () => [FunnelExclusionInput], { nullable: true }) exclusions: FunnelExclusionInput[] | null,
    @Arg('first', () => Int, { defaultValue: 20, description: `Page size, 1 to ${MAX_PROFILES_PAGE}.` }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
  ): Promise<ProfileConnection> {
    if (ctx.purpose !== PURPOSE) {
      throw new ValidationError('purpose', 'actsFor', `funnelProfiles serves ${PURPOSE}: send X-Rapport-Purpose: ${PURPOSE} (or use a key whose only purpose it is)`);
    }
    const spec = checkFunnel({ steps, windowSeconds, mode: mode as string as FunnelMode, from, to, exclusions, breakdown: null, bins: 1 });
    const { plugin, opts } = journeysLoaders.of(ctx);
    checkPropertyKeys(opts.properties, funnelPropertyUses(spec));
    const page = await runFunnelProfiles(plugin, spec, { step, dropped, first, after });
    // The host's guarded roots. A profile erased since the store was read is left out; an id merged into a person
    // already on the page (delivery not caught up yet) appears once.
    const roots = await ctx.profilesById(page.nodes);
    const seen = new Set<string>();
    const edges: Array<{ cursor: string; node: Profile }> = [];
    roots.forEach((node, i) => {
      if (!node || seen.has(node.id)) return;
      seen.add(node.id);
      edges.push({ cursor: page.cursors[i]!, node });
    });
    return {
      edges,
      nodes: edges.map((e) => e.node),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.cursors[page.cursors.length - 1] ?? null },
    };
  }
}
