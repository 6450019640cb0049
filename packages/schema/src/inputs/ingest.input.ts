import { Field, ID, InputType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';

/** Fields every message may carry (Segment common fields). */
@InputType()
export class CommonMessageInput {
  @Field(() => ID, { nullable: true }) userId?: string;
  @Field(() => ID, { nullable: true }) anonymousId?: string;
  @Field({ nullable: true, description: 'Unique per message; a message sent twice with the same id is stored once.' }) messageId?: string;
  @Field({ nullable: true, description: 'When it happened (ISO-8601); defaults to when it was received.' }) timestamp?: string;
  @Field({ nullable: true, description: 'When the client sent it, for clock-skew correction.' }) sentAt?: string;
  @Field(() => JSONObjectScalar, { nullable: true }) context?: Record<string, unknown>;
  @Field(() => JSONObjectScalar, { nullable: true }) integrations?: Record<string, unknown>;
}

@InputType('IdentifyInput')
export class IdentifyInput extends CommonMessageInput {
  @Field(() => JSONObjectScalar, { nullable: true }) traits?: Record<string, unknown>;
}

@InputType('TrackInput')
export class TrackInput extends CommonMessageInput {
  @Field({ description: 'The event name, e.g. "Order Completed".' }) event: string;
  @Field(() => JSONObjectScalar, { nullable: true }) properties?: Record<string, unknown>;
}

@InputType('PageInput')
export class PageInput extends CommonMessageInput {
  @Field({ nullable: true }) name?: string;
  @Field({ nullable: true }) category?: string;
  @Field(() => JSONObjectScalar, { nullable: true }) properties?: Record<string, unknown>;
}

@InputType('ScreenInput')
export class ScreenInput extends CommonMessageInput {
  @Field({ nullable: true }) name?: string;
  @Field(() => JSONObjectScalar, { nullable: true }) properties?: Record<string, unknown>;
}

@InputType('GroupInput')
export class GroupInput extends CommonMessageInput {
  @Field(() => ID) groupId: string;
  @Field(() => JSONObjectScalar, { nullable: true }) traits?: Record<string, unknown>;
}

@InputType('AliasInput')
export class AliasInput extends CommonMessageInput {
  @Field(() => ID, { description: 'The id being merged into userId (usually an anonymousId).' }) previousId: string;
}
