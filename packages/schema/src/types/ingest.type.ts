import { Field, ID, ObjectType } from 'type-graphql';

/** What happened to a message sent through a GraphQL mutation. */
@ObjectType('IngestResult')
export class IngestResultType {
  @Field() messageId: string;
  @Field(() => ID, { nullable: true, description: 'The profile it landed on; null unless the key may read profiles.' })
  profileId: string | null;
  @Field({ description: 'True when a message with this id was already stored.' }) duplicate: boolean;
  @Field(() => [String]) warnings: string[];
}
