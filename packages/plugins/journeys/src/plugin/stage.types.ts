/** GraphQL types of journey stages: definitions, a person's stage, and stage counts. */
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PropertyEqualsInput } from './funnel.types';
import type { ConditionInput, JourneyInput } from './journey-definition';

@InputType('JourneyConditionInput', {
  description:
    'One condition of a stage\'s rule: exactly one of `event` (with where, atLeast, withinSeconds, absent), `trait` (with one of equals, '
    + 'notEquals, in, exists, or greaterThan and/or lessThan) and `anyOf` (groups of event and trait conditions, one of which must hold).',
})
export class JourneyConditionInput implements ConditionInput {
  @Field(() => String, { nullable: true, description: 'Events of this name: a track event name, or `Page Viewed` / `Screen Viewed`.' })
  event?: string | null;
  @Field(() => [PropertyEqualsInput], { nullable: true, description: 'Property filters on the event (all must hold; at most 5).' })
  where?: PropertyEqualsInput[] | null;
  @Field(() => Int, { nullable: true, description: 'At least this many matching events (default 1; 1 to 1000).' }) atLeast?: number | null;
  @Field(() => Int, { nullable: true, description: 'Only events less than this many seconds old count (1 s to 5 years).' }) withinSeconds?: number | null;
  @Field(() => Boolean, { nullable: true, description: 'True: holds when there is NO matching event (in the window).' }) absent?: boolean | null;
  @Field(() => String, { nullable: true, description: 'A trait key, read from the latest identify event that set it.' }) trait?: string | null;
  @Field(() => String, { nullable: true, description: "The trait's value, as text, equals this." }) equals?: string | null;
  @Field(() => Float, { nullable: true, description: "The trait's value is a number greater than this." }) greaterThan?: number | null;
  @Field(() => Float, { nullable: true, description: "The trait's value is a number less than this (with greaterThan: a range, both bounds excluded)." })
  lessThan?: number | null;
  @Field(() => [String], { nullable: true, description: "The trait's value, as text, is one of these (1 to 50 values)." }) in?: string[] | null;
  @Field(() => Boolean, { nullable: true, description: 'True: the trait is set (not null); false: it is not set.' }) exists?: boolean | null;
  @Field(() => String, { nullable: true, description: "The trait is set and its value, as text, differs from this (a person without the trait does not match)." })
  notEquals?: string | null;
  @Field(() => [JourneyConditionGroupInput], {
    nullable: true,
    description: 'Holds when every condition of at least one group holds (2 to 10 groups; conditions inside are event or trait conditions, not anyOf).',
  })
  anyOf?: JourneyConditionGroupInput[] | null;
}

@InputType('JourneyConditionGroupInput', { description: 'A group of an anyOf: every condition must hold (1 to 10).' })
export class JourneyConditionGroupInput {
  @Field(() => [JourneyConditionInput]) when: JourneyConditionInput[];
}

@InputType('JourneyStageInput')
export class JourneyStageInput {
  @Field(() => String, { description: 'Unique in the journey.' }) name: string;
  @Field(() => [JourneyConditionInput], { description: 'The rule: every condition must hold (1 to 10).' }) when: JourneyConditionInput[];
}

@InputType('JourneyInput')
export class JourneyDefinitionInput implements JourneyInput {
  @Field(() => String) name: string;
  @Field(() => [JourneyStageInput], { description: '2 to 20 stages, in order: a person is in the last one whose rule holds.' }) stages: JourneyStageInput[];
}

@ObjectType('JourneyPropertyEquals')
export class PropertyEqualsOutput {
  @Field(() => String) property: string;
  @Field(() => String) equals: string;
}

@ObjectType('JourneyCondition')
export class JourneyConditionType {
  @Field(() => String, { nullable: true }) event: string | null;
  @Field(() => [PropertyEqualsOutput], { nullable: true }) where: PropertyEqualsOutput[] | null;
  @Field(() => Int, { nullable: true }) atLeast: number | null;
  @Field(() => Int, { nullable: true }) withinSeconds: number | null;
  @Field(() => Boolean, { nullable: true }) absent: boolean | null;
  @Field(() => String, { nullable: true }) trait: string | null;
  @Field(() => String, { nullable: true }) equals: string | null;
  @Field(() => Float, { nullable: true }) greaterThan: number | null;
  @Field(() => Float, { nullable: true }) lessThan: number | null;
  @Field(() => [String], { nullable: true }) in: string[] | null;
  @Field(() => Boolean, { nullable: true }) exists: boolean | null;
  @Field(() => String, { nullable: true }) notEquals: string | null;
  @Field(() => [JourneyConditionGroupType], { nullable: true, description: 'The groups of an anyOf condition (one must hold).' }) anyOf: JourneyConditionGroupType[] | null;
}

@ObjectType('JourneyConditionGroup')
export class JourneyConditionGroupType {
  @Field(() => [JourneyConditionType]) when: JourneyConditionType[];
}

@ObjectType('JourneyStageDefinition')
export class JourneyStageDefinitionType {
  @Field(() => String) name: string;
  @Field(() => [JourneyConditionType]) when: JourneyConditionType[];
}

@ObjectType('JourneyDefinition', { description: 'A journey: ordered stages, each entered by a rule (journeys plugin).' })
export class JourneyDefinitionType {
  @Field(() => String) name: string;
  @Field(() => [JourneyStageDefinitionType]) stages: JourneyStageDefinitionType[];
  @Field(() => Int, { description: 'Bumped on every redefinition.' }) version: number;
  @Field(() => Boolean, { description: 'Everyone known has been evaluated against this version (the backfill is done).' }) ready: boolean;
  @Field(() => Date) definedAt: Date;
  @Field(() => Date) updatedAt: Date;
}

@ObjectType('JourneyStageVisit', { description: 'A time the person spent in a stage.' })
export class JourneyStageVisitType {
  @Field(() => String) stage: string;
  @Field(() => Date) enteredAt: Date;
  @Field(() => Date, { nullable: true, description: 'Null for the current stage.' }) leftAt: Date | null;
}

@ObjectType('ProfileJourney', { description: "A person's place in a journey (journeys plugin)." })
export class ProfileJourneyType {
  @Field(() => String) journey: string;
  @Field(() => String, { description: 'The current stage.' }) stage: string;
  @Field(() => Date, { description: 'When the person entered it (when Rapport recorded the change).' }) enteredAt: Date;
  @Field(() => [JourneyStageVisitType], { description: 'Every stage visited, oldest first (the latest 100), the current one last.' })
  history: JourneyStageVisitType[];
}

@ObjectType('StageCount')
export class StageCountType {
  @Field(() => String) stage: string;
  @Field(() => Int, { description: '1-based position in the journey.' }) index: number;
  @Field(() => Int, { nullable: true, description: 'People in the stage now; null when withheld (1 to k-1 people).' }) people: number | null;
  @Field(() => Boolean) suppressed: boolean;
}

@ObjectType('StageCounts', { description: 'The population of each stage of a journey, among people who allow analytics.' })
export class StageCountsType {
  @Field(() => String) journey: string;
  @Field(() => Int, { description: 'Smallest count published; cells of 1 to k-1 people are withheld.' }) k: number;
  @Field(() => [StageCountType]) stages: StageCountType[];
}

@ObjectType('JourneyStageChange', {
  description:
    "A person's move between stages of a journey (journeys plugin), as `journeyStageChanged` announces it when it commits. "
    + 'The stage fields derive from the person\'s events and serve analytics: the field guard decides them for the subscriber '
    + 'and the person on every event, as it decides `Profile.journey`.',
})
export class JourneyStageChangeType {
  @Field(() => ID, { description: 'The change id: increasing in commit order (the change log\'s, as `changesAfter` reads it).' }) id: string;
  @Field(() => String) journey: string;
  /** The person the change is about; read by the field guard, and by `profile`. */
  profileId: string;
  @Field(() => String, { nullable: true, description: 'The stage the person left; null when they were in no stage.' }) fromStage: string | null;
  @Field(() => String, { nullable: true, description: 'The stage the person entered; null when they left the journey.' }) toStage: string | null;
  @Field(() => String, { nullable: true, description: 'Why: event, time, consent, merge, definition or deleted.' }) reason: string | null;
  @Field(() => Date, { nullable: true, description: 'When the person entered `toStage` (as `Profile.journey.enteredAt`); null when they left.' })
  enteredAt: Date | null;
  @Field(() => Date, { nullable: true, description: 'When the change was recorded.' }) changedAt: Date | null;
}
