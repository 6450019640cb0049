/**
 * GraphQL types of the sentiment plugin.
 */
import { PageInfo } from '@rapport/schema';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import type { TextRow } from './sentiment.store';
import type { Breakdown } from './rollup';

@ObjectType('SentimentExplanationTerm', { description: 'A word or phrase that moved a score, and by how much.' })
export class SentimentExplanationTermType {
  @Field({ description: 'As written, lower case; a negated word comes with its negation ("not good"), a boosted one with its intensifier ("extremely slow").' })
  phrase: string;
  @Field(() => Float, { description: 'Change of the log-odds of "positive" (below 0: pulls towards negative).' }) weight: number;
  @Field() negated: boolean;
  @Field() intensified: boolean;
}

@ObjectType('SentimentScore', { description: 'The analysis of one text (analyzeText): nothing is stored.' })
export class SentimentScoreType {
  @Field(() => Float, { description: '-1 (negative) .. 1 (positive); 0 when unsupported or empty.' }) polarity: number;
  @Field({ description: '`positive`, `neutral`, `negative`, or `unsupported` (not English, or binary data: never guessed).' }) label: string;
  @Field(() => Float, { description: '0..1: how sure the model is of the label; 0 when unsupported or empty.' }) confidence: number;
  @Field(() => [SentimentExplanationTermType], { description: 'The words that moved the score most, strongest first (at most 8).' })
  explanation: SentimentExplanationTermType[];
  @Field({ description: 'The model that produced the score (`rapport-lr-blend-v1`).' }) model: string;
  @Field({ description: '`en`; for an unsupported text the language tinyld names; `und` with no letters.' }) language: string;
  @Field({ description: 'True when only the first 5,000 characters were analysed.' }) truncated: boolean;
  @Field(() => String, { nullable: true, description: '`empty`, `no-words`, `binary` or `not-english` when the result is not a plain score.' })
  reason?: string | null;
}

@ObjectType('SentimentText', { description: 'A text a person wrote, with its analysis (sentiment plugin).' })
export class SentimentTextType {
  @Field(() => ID) id: string;
  @Field(() => ID) profileId: string;
  @Field() channel: string;
  @Field() topic: string;
  @Field(() => String, { nullable: true, description: 'The text (personal data: only roles allowed to read texts, `support` by default).' })
  text: string | null;
  @Field({ description: 'True when the stored text was cut at 20,000 characters, or only its first 5,000 were analysed.' }) truncated: boolean;
  @Field({ description: '`pending`, `scored`, `unsupported`, `empty` or `not-consented` (stored, not analysed: the person does not allow the purpose).' })
  status: string;
  @Field(() => Float, { nullable: true }) polarity: number | null;
  @Field(() => String, { nullable: true }) label: string | null;
  @Field(() => Float, { nullable: true }) confidence: number | null;
  @Field(() => String, { nullable: true }) model: string | null;
  @Field(() => String, { nullable: true }) language: string | null;
  @Field(() => [SentimentExplanationTermType], { nullable: true }) explanation: SentimentExplanationTermType[] | null;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) analysedAt: Date | null;
}

/** The GraphQL shape of a stored text (`body` becomes `text`). */
export function toTextType(r: TextRow): SentimentTextType {
  return { ...r, text: r.body };
}

@ObjectType('SentimentTextConnection', { description: 'A page of texts, newest first.' })
export class SentimentTextConnection {
  @Field(() => [SentimentTextType]) nodes: SentimentTextType[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@ObjectType('SentimentBreakdown', { description: 'Mean polarity and number of scored texts of one topic or channel.' })
export class SentimentBreakdownType implements Breakdown {
  @Field() key: string;
  @Field(() => Float) score: number;
  @Field(() => Int) count: number;
}

@ObjectType('SentimentHandoff', { description: 'A case for a person to step in (sentiment plugin). The model never answers the customer itself.' })
export class HandoffType {
  @Field(() => ID) id: string;
  @Field(() => ID) profileId: string;
  @Field() topic: string;
  @Field({ description: '`open`, `assigned` or `resolved`.' }) status: string;
  @Field(() => [String], { description: 'Rules that fired: `threshold`, `streak`, `request`.' }) reasons: string[];
  @Field(() => String, { nullable: true }) assignee: string | null;
  @Field(() => String, { nullable: true }) note: string | null;
  @Field() openedAt: Date;
  @Field(() => Date, { nullable: true }) assignedAt: Date | null;
  @Field(() => Date, { nullable: true }) resolvedAt: Date | null;
  /** Internal: ids of the texts. */
  textIds: string[];
}

@ObjectType('SentimentHandoffConnection', { description: 'A page of hand-off cases, oldest first.' })
export class HandoffConnection {
  @Field(() => [HandoffType]) nodes: HandoffType[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@ObjectType('SentimentSkipCount', { description: 'Event texts not analysed, by reason.' })
export class SkipCountType {
  @Field({ description: '`missing-property`, `not-a-string`, `blank`, or `handoff-cooldown` (a case not opened because of the cooldown).' }) reason: string;
  @Field(() => Float) count: number;
}

@InputType('SentimentIdentityInput', { description: 'An identity of a person, as profileByIdentity takes it.' })
export class SentimentIdentityInput {
  @Field() type: string;
  @Field() value: string;
}
