import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from './page-info.type';

/** A decision on a match candidate. */
export enum MergeDecision {
  MERGE = 'MERGE',
  REJECT = 'REJECT',
}
registerEnumType(MergeDecision, { name: 'MergeDecision', description: 'MERGE the two profiles, or REJECT the pair for good.' });

/** What one comparison contributed to a candidate's score, and why. */
@ObjectType('MatchExplanation')
export class MatchExplanation {
  @Field({ description: 'The comparison (a trait or traits), e.g. firstName.' }) comparison: string;
  @Field({ description: 'The agreement level found, e.g. "Jaro-Winkler >= 0.92" or "missing value".' }) label: string;
  @Field(() => Int, { description: 'Level index; -1 when a value is missing.' }) level: number;
  @Field(() => String, { nullable: true, description: 'The first profile\'s value, normalised.' }) valueA: string | null;
  @Field(() => String, { nullable: true, description: 'The second profile\'s value, normalised.' }) valueB: string | null;
  @Field(() => Float, { description: 'log2(m/u): positive is evidence for a match, negative against.' }) weight: number;
}

/** A scored pair of profiles that may be one person. */
@ObjectType('MatchCandidate')
export class MatchCandidateType {
  @Field(() => ID) id: string;
  @Field(() => ID) profileAId: string;
  @Field(() => ID) profileBId: string;
  @Field(() => Float, { description: 'Match weight: log2 prior odds plus the sum of the explanation weights.' }) weight: number;
  @Field(() => Float, { description: 'Match probability, 2^w / (1 + 2^w).' }) probability: number;
  @Field({ description: 'pending, merged or rejected.' }) status: string;
  @Field(() => [MatchExplanation]) explanation: MatchExplanation[];
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) resolvedAt: Date | null;
  @Field(() => String, { nullable: true }) resolvedBy: string | null;
}

@ObjectType('MatchCandidateEdge')
export class MatchCandidateEdge {
  @Field() cursor: string;
  @Field(() => MatchCandidateType) node: MatchCandidateType;
}

@ObjectType('MatchCandidateConnection')
export class MatchCandidateConnection {
  @Field(() => [MatchCandidateEdge]) edges: MatchCandidateEdge[];
  @Field(() => [MatchCandidateType]) nodes: MatchCandidateType[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}
