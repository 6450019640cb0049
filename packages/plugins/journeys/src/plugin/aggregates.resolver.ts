/** The `retention`, `lifecycle` and `paths` queries. */
import { ValidationError } from '@rapport/core';
import type { RequestContext } from '@rapport/schema';
import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import { unknownEvents } from './funnel.query';
import { journeysLoaders } from './journeys.loaders';
import { PURPOSE, READ_PERMISSION } from './options';
import { checkLifecycle, checkRetention, type RetentionPeriod } from './retention.definition';
import { runLifecycle, runRetention } from './retention.query';
import { LifecycleType, RetentionPeriodEnum, RetentionType } from './retention.types';
import { checkPaths, runPaths, type PathDirection } from './paths.query';
import { PathDirectionEnum, PathsType } from './paths.types';

function mustActForAnalytics(ctx: RequestContext, query: string): void {
  if (ctx.purpose !== PURPOSE) {
    throw new ValidationError('purpose', 'actsFor', `${query} serves ${PURPOSE}: send X-Rapport-Purpose: ${PURPOSE} (or use a key whose only purpose it is)`);
  }
}

async function warnUnknown(ctx: RequestContext, fields: Array<[field: string, name: string]>): Promise<void> {
  const { plugin } = journeysLoaders.of(ctx);
  const unknown = new Set(await unknownEvents(plugin, fields.map(([, n]) => n)));
  for (const [field, name] of fields) {
    if (unknown.has(name)) {
      ctx.warn({ code: 'UNKNOWN_EVENT', rule: 'exists', field, message: `no stored event is named ${JSON.stringify(name.slice(0, 80))}: its counts are 0` });
    }
  }
}

@Resolver()
export class AggregatesResolver {
  @Authorized(READ_PERMISSION)
  @Query(() => RetentionType, {
    description:
      'Retention (journeys plugin): cohorts by the period of each person\'s first ever start event, and how many of them did the return '
      + 'event in each later period. Acts for analytics; counts only people who allow it; cells under k people are withheld. See docs/journeys.md.',
  })
  async retention(
    @Ctx() ctx: RequestContext,
    @Arg('startEvent', () => String) startEvent: string,
    @Arg('returnEvent', () => String) returnEvent: string,
    @Arg('from', () => Date, { description: 'Start of the first period.' }) from: Date,
    @Arg('period', () => RetentionPeriodEnum, { defaultValue: RetentionPeriodEnum.WEEK }) period: RetentionPeriodEnum,
    @Arg('periods', () => Int, { defaultValue: 8, description: 'How many periods: 1 to 92 days or 1 to 53 weeks.' }) periods: number,
  ): Promise<RetentionType> {
    mustActForAnalytics(ctx, 'retention');
    const spec = checkRetention({ startEvent, returnEvent, from, period: period as string as RetentionPeriod, periods });
    const { plugin, opts } = journeysLoaders.of(ctx);
    const [result] = await Promise.all([runRetention(plugin, spec, opts.k), warnUnknown(ctx, [['startEvent', startEvent], ['returnEvent', returnEvent]])]);
    return result as RetentionType;
  }

  @Authorized(READ_PERMISSION)
  @Query(() => LifecycleType, {
    description:
      'Lifecycle (journeys plugin): per period, the people doing an event who are new, returning or resurrecting, and those gone dormant. '
      + 'Acts for analytics; counts only people who allow it; cells under k people are withheld.',
  })
  async lifecycle(
    @Ctx() ctx: RequestContext,
    @Arg('event', () => String) event: string,
    @Arg('from', () => Date, { description: 'Start of the first period.' }) from: Date,
    @Arg('period', () => RetentionPeriodEnum, { defaultValue: RetentionPeriodEnum.WEEK }) period: RetentionPeriodEnum,
    @Arg('periods', () => Int, { defaultValue: 8, description: 'How many periods: 1 to 92 days or 1 to 53 weeks.' }) periods: number,
  ): Promise<LifecycleType> {
    mustActForAnalytics(ctx, 'lifecycle');
    const spec = checkLifecycle({ event, from, period: period as string as RetentionPeriod, periods });
    const { plugin, opts } = journeysLoaders.of(ctx);
    const [result] = await Promise.all([runLifecycle(plugin, spec, opts.k), warnUnknown(ctx, [['event', event]])]);
    return result as LifecycleType;
  }

  @Authorized(READ_PERMISSION)
  @Query(() => PathsType, {
    description:
      'Paths (journeys plugin): the most common next (or previous) events around each person\'s first occurrence of an event, to a depth, '
      + 'as Sankey edges; consecutive repeats collapse into one step. Acts for analytics; counts only people who allow it; edges under k people are left out.',
  })
  async paths(
    @Ctx() ctx: RequestContext,
    @Arg('event', () => String) event: string,
    @Arg('direction', () => PathDirectionEnum, { defaultValue: PathDirectionEnum.NEXT }) direction: PathDirectionEnum,
    @Arg('depth', () => Int, { defaultValue: 3, description: 'Steps from the event: 1 to 5.' }) depth: number,
    @Arg('from', () => Date, { nullable: true, description: 'Only events at or after this time.' }) from: Date | null,
    @Arg('to', () => Date, { nullable: true, description: 'Only events before this time.' }) to: Date | null,
  ): Promise<PathsType> {
    mustActForAnalytics(ctx, 'paths');
    const spec = checkPaths({ event, direction: direction as string as PathDirection, depth, from, to });
    const { plugin, opts } = journeysLoaders.of(ctx);
    const [result] = await Promise.all([runPaths(plugin, spec, opts.k), warnUnknown(ctx, [['event', event]])]);
    return result as PathsType;
  }
}
