/** GraphQL types of the retention and lifecycle queries. */
import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { LifecyclePeriod, LifecycleResult, RetentionCell, RetentionCohort, RetentionResult } from './retention.result';

export enum RetentionPeriodEnum {
  DAY = 'day',
  WEEK = 'week',
}
registerEnumType(RetentionPeriodEnum, {
  name: 'RetentionPeriod',
  description: 'DAY: 24-hour periods; WEEK: 7-day periods. Both start at `from` (UTC instants, not calendar weeks).',
});

@ObjectType('RetentionCell', { description: 'People of a cohort who did the return event `offset` periods after their first period.' })
export class RetentionCellType implements RetentionCell {
  @Field(() => Int, { description: '0 is the cohort itself.' }) offset: number;
  @Field(() => Int, { nullable: true, description: 'Null when withheld (1 to k-1 people).' }) count: number | null;
  @Field(() => Float, { nullable: true, description: 'count / cohort size; null when either is withheld.' }) rate: number | null;
  @Field(() => Boolean) suppressed: boolean;
}

@ObjectType('RetentionCohort', { description: 'People whose first start event fell in one period: one row of the triangle.' })
export class RetentionCohortType implements RetentionCohort {
  @Field(() => Date, { description: "Start of the cohort's period." }) start: Date;
  @Field(() => Int, { nullable: true }) size: number | null;
  @Field(() => Boolean) suppressed: boolean;
  @Field(() => [RetentionCellType]) cells: RetentionCellType[];
}

@ObjectType('Retention')
export class RetentionType implements RetentionResult {
  @Field(() => Int, { description: 'Smallest count published; cells of 1 to k-1 people are withheld.' }) k: number;
  @Field(() => [RetentionCohortType]) cohorts: RetentionCohortType[];
}

@ObjectType('LifecyclePeriod', { description: 'One period: people doing the event who are new, returning or resurrecting, and those gone dormant.' })
export class LifecyclePeriodType implements LifecyclePeriod {
  @Field(() => Date) start: Date;
  @Field(() => Int, { nullable: true, description: 'Their first ever such event is in this period.' }) new: number | null;
  @Field(() => Int, { nullable: true, description: 'Also active the period before.' }) returning: number | null;
  @Field(() => Int, { nullable: true, description: 'Not active the period before, active some time earlier.' }) resurrecting: number | null;
  @Field(() => Int, { nullable: true, description: 'Active the period before, not in this one (a positive count).' }) dormant: number | null;
  @Field(() => Boolean, { description: 'Some count of this period is withheld.' }) suppressed: boolean;
}

@ObjectType('Lifecycle')
export class LifecycleType implements LifecycleResult {
  @Field(() => Int) k: number;
  @Field(() => [LifecyclePeriodType]) periods: LifecyclePeriodType[];
}
