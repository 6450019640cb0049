/** GraphQL types of the funnel query. */
import { Field, Float, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { Attribution, FunnelMode } from './funnel.definition';
import type { FunnelBin, FunnelResult, FunnelSeries, FunnelStepResult } from './funnel.result';

export enum FunnelModeEnum {
  ORDERED = 'ordered',
  STRICT = 'strict',
  UNORDERED = 'unordered',
}
registerEnumType(FunnelModeEnum, {
  name: 'FunnelMode',
  description: 'ORDERED: steps in order, other events may come between. STRICT: each step the very next event. UNORDERED: steps in any order.',
});

export enum AttributionEnum {
  FIRST_TOUCH = 'first_touch',
  LAST_TOUCH = 'last_touch',
}
registerEnumType(AttributionEnum, {
  name: 'FunnelAttribution',
  description: "FIRST_TOUCH: the property on the person's first-step event; LAST_TOUCH: on the last step event they reached.",
});

@InputType('FunnelPropertyEquals', { description: 'A top-level event property, read as text, equals a value.' })
export class PropertyEqualsInput {
  @Field(() => String) property: string;
  @Field(() => String) equals: string;
}

@InputType('FunnelStepInput')
export class FunnelStepInput {
  @Field(() => String, { description: 'Event name: a track event name, or `Page Viewed` / `Screen Viewed`.' }) event: string;
  @Field(() => [PropertyEqualsInput], { nullable: true, description: 'All must hold (at most 5).' }) where?: PropertyEqualsInput[] | null;
  @Field(() => Int, { nullable: true, description: 'Longest time from the previous step, in seconds (not for step 1, not unordered).' })
  withinSeconds?: number | null;
}

@InputType('FunnelExclusionInput')
export class FunnelExclusionInput {
  @Field(() => String) event: string;
  @Field(() => [PropertyEqualsInput], { nullable: true }) where?: PropertyEqualsInput[] | null;
  @Field(() => Int, { nullable: true, description: 'After this step (1-based, default 1).' }) fromStep?: number | null;
  @Field(() => Int, { nullable: true, description: 'Before this step (1-based, default the last).' }) toStep?: number | null;
}

@InputType('FunnelBreakdownInput', { description: 'Give property or trait, not both.' })
export class FunnelBreakdownInput {
  @Field(() => String, { nullable: true, description: 'A top-level event property.' }) property?: string | null;
  @Field(() => String, {
    nullable: true,
    description: "A top-level profile trait: the person's current value, as the caller may read it (its field policy; people whose "
      + 'consent does not allow it are in the null series). Not personal data (pii). Needs profiles:read.',
  })
  trait?: string | null;
  @Field(() => AttributionEnum, { defaultValue: AttributionEnum.FIRST_TOUCH, description: 'For property: which event gives the value. Ignored for trait.' })
  attribution: Attribution;
}

@ObjectType('FunnelBin', { description: 'People whose time from the previous step falls in [fromSeconds, toSeconds) (the last bin closed).' })
export class FunnelBinType implements FunnelBin {
  @Field(() => Float) fromSeconds: number;
  @Field(() => Float) toSeconds: number;
  @Field(() => Int, { nullable: true, description: 'Null when it counts 1 to k-1 people.' }) count: number | null;
  @Field(() => Boolean) suppressed: boolean;
}

@ObjectType('FunnelStep')
export class FunnelStepType implements FunnelStepResult {
  @Field(() => Int, { description: '1-based.' }) step: number;
  @Field(() => String) event: string;
  @Field(() => Int, { nullable: true, description: 'People who reached this step.' }) entered: number | null;
  @Field(() => Int, { nullable: true, description: 'People who went on to the next step (null for the last).' }) converted: number | null;
  @Field(() => Float, { nullable: true }) conversionFromFirst: number | null;
  @Field(() => Float, { nullable: true }) conversionFromPrevious: number | null;
  @Field(() => Float, { nullable: true, description: 'Median time from the previous step, in seconds.' }) medianSecondsToConvert: number | null;
  @Field(() => Float, { nullable: true, description: '90th percentile of the time from the previous step, in seconds.' }) p90SecondsToConvert: number | null;
  @Field(() => [FunnelBinType], { nullable: true }) histogram: FunnelBinType[] | null;
  @Field(() => Boolean, { description: 'True when a number of this step was withheld: it counted fewer than k people.' }) suppressed: boolean;
}

@ObjectType('FunnelSeries')
export class FunnelSeriesType implements FunnelSeries {
  @Field(() => String, { nullable: true, description: 'The breakdown value (null without a breakdown, or when the property was missing).' })
  breakdownValue: string | null;
  @Field(() => [FunnelStepType]) steps: FunnelStepType[];
}

@ObjectType('Funnel', { description: 'A funnel over the journeys store (journeys plugin). Counts only people whose consent allows analytics.' })
export class FunnelType implements FunnelResult {
  @Field(() => [FunnelSeriesType]) series: FunnelSeriesType[];
  @Field(() => Int, { description: 'Cells counting 1 to k-1 people are withheld.' }) k: number;
  @Field(() => Int, { description: 'Breakdown values left out: only the 50 with the most people entering are answered.' }) omittedBreakdownValues: number;
}

export type { FunnelMode };
