/** The `funnel` query. */
import { ValidationError } from '@rapport/core';
import type { RequestContext } from '@rapport/schema';
import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { traitBreakdownOption } from './funnel-breakdown';
import { checkPropertyKeys, funnelPropertyUses } from './property-keys';
import { checkFunnel, DEFAULT_WINDOW_SECONDS, type Attribution, type FunnelMode } from './funnel.definition';
import { runFunnel, unknownEvents } from './funnel.query';
import { FunnelBreakdownInput, FunnelExclusionInput, FunnelModeEnum, FunnelStepInput, FunnelType } from './funnel.types';
import { journeysLoaders } from './journeys.loaders';
import { PURPOSE, READ_PERMISSION } from './options';

@Resolver()
export class FunnelResolver {
  @Authorized(READ_PERMISSION)
  @Query(() => FunnelType, {
    description:
      'Funnel over stored events (journeys plugin): per step, people entered and converted, rates, median and p90 time to convert, '
      + 'and its histogram. Acts for analytics; counts only people who allow it; cells under k people are withheld. See docs/journeys.md.',
  })
  async funnel(
    @Ctx() ctx: RequestContext,
    @Arg('steps', () => [FunnelStepInput], { description: '2 to 10 steps.' }) steps: FunnelStepInput[],
    @Arg('windowSeconds', () => Int, { defaultValue: DEFAULT_WINDOW_SECONDS, description: 'Conversion window from the first step: 1 s to 365 days.' })
    windowSeconds: number,
    @Arg('mode', () => FunnelModeEnum, { defaultValue: FunnelModeEnum.ORDERED }) mode: FunnelModeEnum,
    @Arg('from', () => Date, { nullable: true, description: 'Only events at or after this time.' }) from: Date | null,
    @Arg('to', () => Date, { nullable: true, description: 'Only events before this time.' }) to: Date | null,
    @Arg('exclusions', () => [FunnelExclusionInput], { nullable: true }) exclusions: FunnelExclusionInput[] | null,
    @Arg('breakdown', () => FunnelBreakdownInput, { nullable: true }) breakdown: FunnelBreakdownInput | null,
    @Arg('bins', () => Int, { defaultValue: 10, description: 'Histogram bins: the window cut into this many (1 to 50).' }) bins: number,
  ): Promise<FunnelType> {
    if (ctx.purpose !== PURPOSE) {
      throw new ValidationError('purpose', 'actsFor', `the funnel serves ${PURPOSE}: send X-Rapport-Purpose: ${PURPOSE} (or use a key whose only purpose it is)`);
    }
    const spec = checkFunnel({ steps, windowSeconds, mode: mode as string as FunnelMode, from, to, exclusions,
      breakdown: breakdown ? { property: breakdown.property, trait: breakdown.trait, attribution: breakdown.attribution as string as Attribution } : null, bins });
    const { plugin, opts } = journeysLoaders.of(ctx);
    checkPropertyKeys(opts.properties, funnelPropertyUses(spec));
    const trait = traitBreakdownOption(ctx, spec.breakdownTrait);
    const names = [...spec.steps.map((s) => s.event), ...spec.exclusions.map((x) => x.event)];
    const [result, unknown] = await Promise.all([runFunnel(plugin, spec, opts.k, { ...trait, parts: opts.funnelParts }), unknownEvents(plugin, names)]);
    for (const name of unknown) {
      const i = spec.steps.findIndex((s) => s.event === name);
      ctx.warn({
        code: 'UNKNOWN_EVENT', rule: 'exists',
        field: i >= 0 ? `steps[${i}].event` : `exclusions[${spec.exclusions.findIndex((x) => x.event === name)}].event`,
        message: `no stored event is named ${JSON.stringify(name.slice(0, 80))}: its counts are 0`,
      });
    }
    return result as FunnelType;
  }
}
