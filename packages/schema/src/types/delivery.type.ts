import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

/** Where one plugin's durable event delivery stands. */
@ObjectType('DeliveryStatus')
export class DeliveryStatusType {
  @Field({ description: 'The plugin.' }) consumer: string;
  @Field(() => Float, { description: 'Changes delivered since the plugin was installed.' }) delivered: number;
  @Field(() => Int, { description: 'Changes committed and not delivered yet (counted up to 100,000).' }) lag: number;
  @Field(() => Float, { description: 'Seconds since the oldest undelivered change was stored (0 when none waits).' }) lagSeconds: number;
  @Field(() => Int, { description: 'Failed tries of the change at the head.' }) attempts: number;
  @Field(() => String, { nullable: true, description: 'The last error the plugin raised, while it has not recovered.' }) lastError: string | null;
  @Field(() => Date, { nullable: true, description: 'When the failing change is tried again.' }) nextAttemptAt: Date | null;
  @Field(() => Int, { description: 'Dead letters not replayed yet.' }) deadLetters: number;
}

/** A change a plugin kept failing on, kept for replay. */
@ObjectType('DeadLetter')
export class DeadLetterType {
  @Field(() => ID) id: string;
  @Field() consumer: string;
  @Field({ description: 'event, merge, unmerge or consent.' }) kind: string;
  @Field(() => ID, { description: "The change's position in the outbox." }) seq: string;
  @Field(() => ID, { nullable: true }) profileId: string | null;
  @Field({ description: 'The error of the last try.' }) error: string;
  @Field(() => Int) attempts: number;
  @Field(() => Date) createdAt: Date;
  @Field(() => Date, { nullable: true }) replayedAt: Date | null;
}

/** What replaying one dead letter did. */
@ObjectType('ReplayResult')
export class ReplayResultType {
  @Field(() => ID) id: string;
  @Field() replayed: boolean;
  @Field(() => String, { nullable: true }) error: string | null;
}
