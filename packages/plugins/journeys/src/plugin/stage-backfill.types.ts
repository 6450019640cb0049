/** GraphQL type of a journey's backfill progress: the copy of the trait values its definition added, then evaluation. */
import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('JourneyBackfill', {
  description:
    'Where the backfill of a journey definition stands (journeys plugin): the copy of the current values of the trait keys it '
    + 'added, chunk by chunk, then the evaluation of everyone against it.',
})
export class JourneyBackfillType {
  @Field(() => String, {
    description: '`copying` (trait values are being copied), `evaluating` (everyone is being placed in the current version), or `done` (`ready`).',
  })
  state: string;
  @Field(() => [String], { description: 'The trait keys of the last copy (empty when no definition needed one).' })
  keys: string[];
  @Field(() => Int, { description: 'People whose values the last copy has read.' })
  copied: number;
  @Field(() => Int, { nullable: true, description: 'People the last copy reads: everyone the plugin knew when it started (null until counted).' })
  total: number | null;
  @Field(() => Int, { description: 'Trait values the last copy has written (people who allow analytics and have the trait).' })
  values: number;
  @Field(() => String, {
    nullable: true,
    description: 'Why the last copy stopped: a failure being retried (it resumes where it stopped), or a refusal of the host after a policy change (no retry).',
  })
  error: string | null;
}
