import { Field, ID, ObjectType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';
import { PageInfo } from './page-info.type';

/** A stored message. */
@ObjectType('Event', { description: 'A stored message (identify, track, page, screen, group or alias).' })
export class EventType {
  @Field(() => ID) id: string;
  @Field() messageId: string;
  @Field() type: string;
  @Field(() => String, { nullable: true, description: 'Event name (track) or page/screen name.' }) name: string | null;
  @Field(() => String, { nullable: true, description: 'group events: the group (account, company).' }) groupId: string | null;
  @Field(() => String, { nullable: true, description: 'page events: the page category.' }) category: string | null;
  @Field(() => String, { nullable: true }) userId: string | null;
  @Field(() => String, { nullable: true }) anonymousId: string | null;
  @Field(() => JSONObjectScalar) properties: Record<string, unknown>;
  @Field(() => JSONObjectScalar, { nullable: true }) traits: Record<string, unknown> | null;
  @Field(() => JSONObjectScalar) context: Record<string, unknown>;
  @Field({ description: 'When it happened, corrected for client clock skew.' }) timestamp: Date;
  @Field(() => Date, { nullable: true, description: 'The timestamp the client sent.' }) originalTimestamp: Date | null;
  @Field(() => Date, { nullable: true }) sentAt: Date | null;
  @Field({ description: 'When the server received it.' }) receivedAt: Date;
}

@ObjectType('EventEdge')
export class EventEdge {
  @Field() cursor: string;
  @Field(() => EventType) node: EventType;
}

/** A page of events, newest first. */
@ObjectType('EventConnection', { description: 'A page of events, newest first.' })
export class EventConnection {
  @Field(() => [EventEdge]) edges: EventEdge[];
  @Field(() => [EventType]) nodes: EventType[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}
