import { Field, ID, ObjectType } from 'type-graphql';
import { PageInfo } from './page-info.type';

/** A unified profile: one person. Fields beyond these come from field resolvers (core and plugins). */
@ObjectType('Profile', { description: 'A unified profile: one person, resolved from every identity and event seen.' })
export class Profile {
  @Field(() => ID) id: string;
  @Field() createdAt: Date;
  @Field({ description: 'When a trait, identity or merge last changed the profile.' }) updatedAt: Date;
}

@ObjectType('ProfileEdge')
export class ProfileEdge {
  @Field() cursor: string;
  @Field(() => Profile) node: Profile;
}

/** A page of profiles, oldest first. */
@ObjectType('ProfileConnection')
export class ProfileConnection {
  @Field(() => [ProfileEdge]) edges: ProfileEdge[];
  @Field(() => [Profile]) nodes: Profile[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}
