import { Field, InputType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';

@InputType('IdentityInput')
export class IdentityInput {
  @Field() type: string;
  @Field() value: string;
}

/** Filters for `profiles`. */
@InputType('ProfileFilter')
export class ProfileFilterInput {
  @Field(() => IdentityInput, { nullable: true, description: 'Profiles holding this identity.' }) identity?: IdentityInput;
  @Field(() => JSONObjectScalar, { nullable: true, description: 'Profiles whose traits contain these key/values.' }) traits?: Record<string, unknown>;
  @Field({ nullable: true, description: 'Profiles seen at or after this time.' }) seenSince?: Date;
}
