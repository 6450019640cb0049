import { Field, ObjectType } from 'type-graphql';

/** A purpose personal data may serve. */
@ObjectType('Purpose')
export class PurposeType {
  @Field() name: string;
  @Field() description: string;
  @Field({ description: 'consent, contract, legitimate_interest, legal_obligation, ...' }) legalBasis: string;
  @Field() createdAt: Date;
}

/** A profile's decision for one purpose. */
@ObjectType('Consent')
export class ConsentType {
  @Field() purpose: string;
  @Field({ description: 'The decision as recorded.' }) granted: boolean;
  @Field({ description: 'Granted and not expired: what reads honour.' }) effective: boolean;
  @Field({ description: 'segment:context.consent, track:Consent Updated, graphql, or merge.' }) source: string;
  @Field({ description: 'When the person decided.' }) at: Date;
  @Field(() => Date, { nullable: true }) expiresAt: Date | null;
}

/** One recorded decision. */
@ObjectType('ConsentHistoryEntry')
export class ConsentHistoryEntry {
  @Field() purpose: string;
  @Field() granted: boolean;
  @Field() source: string;
  @Field() at: Date;
  @Field(() => Date, { nullable: true }) expiresAt: Date | null;
  @Field({ description: 'Who recorded it: the API key name.' }) actor: string;
  @Field() recordedAt: Date;
}
