import { Field, ObjectType } from 'type-graphql';

/** An identifier of a person, normalised. */
@ObjectType('Identity', { description: 'An identifier of a person, normalised (email lower-cased, phone in E.164).' })
export class IdentityType {
  @Field({ description: 'user_id, anonymous_id, email, phone, or an external id type (context.externalIds).' })
  type: string;

  @Field()
  value: string;

  @Field({ description: 'When the identity was first seen.' })
  firstSeenAt: Date;
}
