import { Field, InputType } from 'type-graphql';

@InputType('CreateApiKeyInput')
export class CreateApiKeyInput {
  @Field({ nullable: true }) name?: string;
  @Field(() => [String], { description: 'admin, app, ingest, metrics, or a role a plugin or the config added.' }) roles: string[];
  @Field(() => [String], { nullable: true, description: 'Purposes the key may act for.' }) purposes?: string[];
}
