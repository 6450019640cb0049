/** GraphQL types of the paths query. */
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import type { PathEdge, PathsResult } from './paths.query';

export enum PathDirectionEnum {
  NEXT = 'next',
  PREVIOUS = 'previous',
}
registerEnumType(PathDirectionEnum, { name: 'PathDirection', description: 'NEXT: what people do after the event; PREVIOUS: what they did before it.' });

@ObjectType('PathEdge', { description: 'People whose sequence goes from `source` to `target` at `level` (level 1 starts at the anchor event).' })
export class PathEdgeType implements PathEdge {
  @Field(() => Int) level: number;
  @Field(() => String) source: string;
  @Field(() => String) target: string;
  @Field(() => Int) people: number;
}

@ObjectType('Paths', { description: 'The edges of a Sankey diagram around an event.' })
export class PathsType implements PathsResult {
  @Field(() => Int, { description: 'Smallest count published; edges of 1 to k-1 people are left out.' }) k: number;
  @Field(() => Int, { nullable: true, description: 'People who did the event in the range (null when 1 to k-1).' }) anchored: number | null;
  @Field(() => [PathEdgeType]) edges: PathEdgeType[];
  @Field(() => Int, { description: 'Edges left out because they count 1 to k-1 people.' }) suppressedEdges: number;
  @Field(() => Int, { description: 'Edges left out past the 25 most common of a level.' }) omittedEdges: number;
}
