import { Field, ID, ObjectType } from 'type-graphql';

/** An API key (the secret is never stored, so never shown after creation). */
@ObjectType('ApiKey')
export class ApiKeyType {
  @Field(() => ID) id: string;
  @Field() name: string;
  @Field({ description: 'First characters of the key, to recognise it.' }) prefix: string;
  @Field(() => [String]) roles: string[];
  @Field(() => [String]) purposes: string[];
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) lastUsedAt: Date | null;
  @Field(() => Date, { nullable: true }) revokedAt: Date | null;
}

/** A new key: the only time its secret is shown. */
@ObjectType('CreatedApiKey')
export class CreatedApiKey {
  @Field({ description: 'The secret. Store it now: it cannot be shown again.' }) key: string;
  @Field(() => ApiKeyType) apiKey: ApiKeyType;
}
