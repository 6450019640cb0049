import { Field, Float, ID, ObjectType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';

/** A merge of one profile into another. */
@ObjectType('Merge', { description: 'A merge of one profile into another: why, by whom, and whether it was undone.' })
export class MergeType {
  @Field(() => ID) id: string;
  @Field(() => ID) survivorId: string;
  @Field(() => ID, { description: 'The profile merged away (now a tombstone pointing at the survivor).' }) mergedId: string;
  @Field({ description: 'alias, shared_identity, manual or probabilistic.' }) rule: string;
  @Field(() => Float, { nullable: true }) score: number | null;
  @Field(() => JSONObjectScalar, { description: 'What proved the two profiles are one person.' }) reason: Record<string, unknown>;
  @Field(() => String, { nullable: true }) messageId: string | null;
  @Field({ description: 'Who merged: "ingestion", or the API key name.' }) actor: string;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) undoneAt: Date | null;
  @Field(() => String, { nullable: true, description: 'Who undid it.' }) undoneBy: string | null;
}
