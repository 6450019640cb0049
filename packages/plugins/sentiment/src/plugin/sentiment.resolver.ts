/**
 * GraphQL of the sentiment plugin: Profile.sentiment and Profile.feedback, analyzeText, submitFeedback, and the
 * hand-off queue.
 */
import { randomUUID } from 'node:crypto';
import { checkFirst, decodeCursor, encodeCursor, NotFoundError, Permission, ValidationError, type ProfileRecord } from '@rapport/core';
import { Profile, type RequestContext } from '@rapport/schema';
import { graphql, type GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, Info, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { analyzeText } from '../models/analyzer';
import { DEFAULT_TOPIC, HANDOFF_PERMISSION, SUBMIT_PERMISSION } from './options';
import { rollup, type Rollup } from './rollup';
import { sentimentLoaders } from './sentiment.loaders';
import { storeText, TEXT_COLUMNS, toTextRow, type TextRow } from './sentiment.store';
import {
  HandoffConnection, HandoffType, SentimentBreakdownType, SentimentIdentityInput, SentimentScoreType, SentimentTextConnection,
  SentimentTextType, SkipCountType, toTextType,
} from './sentiment.types';

/** Largest text `analyzeText` and `submitFeedback` accept, in characters (1 MB); longer is an error. */
export const MAX_INPUT_CHARS = 1_000_000;
const MAX_PAGE = 100;
const MAX_LAST = 50;
const sl = (ctx: RequestContext) => sentimentLoaders.of(ctx);

@ObjectType('SentimentRollup', { description: "A person's sentiment from their latest 100 scored texts (sentiment plugin)." })
export class SentimentRollupType {
  @Field(() => Float, { description: 'Mean polarity (-1..1) of the latest 20 scored texts.' }) score: number;
  @Field(() => Float, {
    nullable: true,
    description: 'Mean of the latest 5 minus the mean of the 5 before (with fewer than 6 texts: the latest minus the mean of the others); null with one text.',
  })
  trend: number | null;
  @Field(() => Int, { description: 'Negative texts in a row, counting back from the latest.' }) negativeStreak: number;
  @Field(() => Int, { description: 'Scored texts read (at most 100).' }) texts: number;
  @Field(() => [SentimentBreakdownType]) byTopic: SentimentBreakdownType[];
  @Field(() => [SentimentBreakdownType]) byChannel: SentimentBreakdownType[];
  /** Internal: the rows, newest first. */
  rows: Rollup['rows'];
}

function validateText(text: string): void {
  if (text.length > MAX_INPUT_CHARS) throw new ValidationError('text', 'maxLength', `at most ${MAX_INPUT_CHARS} characters, got ${text.length}`);
}

@Resolver(() => SentimentRollupType)
export class SentimentRollupResolver {
  @FieldResolver(() => [SentimentTextType], { description: 'The latest n scored texts, newest first (n: 1 to 50, default 5).' })
  last(@Root() r: SentimentRollupType, @Arg('n', () => Int, { defaultValue: 5 }) n: number): SentimentTextType[] {
    if (!Number.isInteger(n) || n < 1 || n > MAX_LAST) throw new ValidationError('n', 'range', `must be 1 to ${MAX_LAST}, got ${n}`);
    return r.rows.slice(0, n).map(toTextType);
  }
}

@Resolver(() => HandoffType)
export class HandoffTextsResolver {
  @FieldResolver(() => [SentimentTextType], { description: 'The texts that opened or joined the case, oldest first, with their explanations.' })
  async texts(@Root() h: HandoffType, @Ctx() ctx: RequestContext): Promise<SentimentTextType[]> {
    const rows = await sl(ctx).texts.loadMany(h.textIds);
    return rows.filter((r): r is TextRow => r !== null && !(r instanceof Error)).map(toTextType);
  }
}

@Resolver(() => Profile)
export class ProfileSentimentResolver {
  @FieldResolver(() => SentimentRollupType, {
    nullable: true,
    description: "The person's sentiment (sentiment plugin); null before any scored text, or when they do not allow the analysis.",
  })
  async sentiment(@Root() p: ProfileRecord, @Ctx() ctx: RequestContext): Promise<SentimentRollupType | null> {
    return rollup(await sl(ctx).scored.load(p.id));
  }

  @FieldResolver(() => SentimentTextConnection, { description: 'Texts the person wrote, newest first, with their scores (sentiment plugin).' })
  async feedback(
    @Root() p: ProfileRecord,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<SentimentTextConnection> {
    checkFirst(first, MAX_PAGE);
    const before = after ? String(decodeCursor(after)[0]) : null;
    const rows = await sl(ctx).plugin.db.query<Parameters<typeof toTextRow>[0]>(
      `SELECT ${TEXT_COLUMNS} FROM sentiment_text WHERE profile_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) ORDER BY id DESC LIMIT $3`,
      [p.id, before, first + 1],
    );
    const page = rows.slice(0, first).map((r) => toTextType(toTextRow(r)));
    const last = page[page.length - 1];
    return { nodes: page, pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor([last.id]) : null } };
  }
}

/** Finds the profile of an identity through core's own `profileByIdentity`, as the caller (their permissions apply). */
async function profileIdOf(identity: SentimentIdentityInput, ctx: RequestContext, info: GraphQLResolveInfo): Promise<string> {
  const r = await graphql({
    schema: info.schema,
    source: 'query($t: String!, $v: String!) { profileByIdentity(type: $t, value: $v) { id } }',
    variableValues: { t: identity.type, v: identity.value },
    contextValue: ctx,
  });
  if (r.errors?.length) throw r.errors[0]!;
  const id = (r.data?.profileByIdentity as { id?: string } | null)?.id;
  if (!id) throw new NotFoundError('profile with identity', `${identity.type}:${identity.value}`);
  return id;
}

@Resolver()
export class SentimentResolver {
  @Authorized(Permission.ProfilesRead)
  @Query(() => SentimentScoreType, { description: 'Analyses a text now, without storing it (sentiment plugin). At most 1,000,000 characters; the first 5,000 are analysed.' })
  analyzeText(
    @Arg('text', () => String) text: string,
    @Arg('model', () => String, {
      defaultValue: 'served',
      description: '`served` (the trained blend the plugin stores scores of) or `vader` (the VADER baseline, explained by its lexicon phrases).',
    })
    model: string,
  ): SentimentScoreType {
    validateText(text);
    if (model !== 'served' && model !== 'vader') throw new ValidationError('model', 'oneOf', `must be served or vader, got "${model.slice(0, 40)}"`);
    return model === 'vader' ? analyzeText(text, 'vader') : analyzeText(text);
  }

  @Authorized(SUBMIT_PERMISSION)
  @Mutation(() => SentimentTextType, {
    description:
      'Stores a text a person wrote and analyses it off the request path (status `pending` in the answer; scored within a second). ' +
      'Give `profileId` or `identity` (an identity needs `profiles:read`). At most 1,000,000 characters; 20,000 are stored.',
  })
  async submitFeedback(
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('text', () => String) text: string,
    @Arg('profileId', () => ID, { nullable: true }) profileId?: string | null,
    @Arg('identity', () => SentimentIdentityInput, { nullable: true }) identity?: SentimentIdentityInput | null,
    @Arg('channel', () => String, { nullable: true, description: 'Default `feedback`.' }) channel?: string | null,
    @Arg('topic', () => String, { nullable: true, description: 'Default `general`.' }) topic?: string | null,
  ): Promise<SentimentTextType> {
    validateText(text);
    if (!text.trim()) throw new ValidationError('text', 'required', 'must contain something other than white space');
    if (!!profileId === !!identity) throw new ValidationError('profileId', 'oneOf', 'give exactly one of profileId and identity');
    const { plugin, analyseSoon } = sl(ctx);
    let id = profileId ?? (await profileIdOf(identity!, ctx, info));
    const [ref] = await plugin.profiles.resolve([id]);
    if (!ref) throw new NotFoundError('profile', id);
    id = ref.liveId;
    const live = id;
    // Held against erasure: a person erased since the lookup above gets no text (an erasure that starts now waits).
    const textId = await plugin.db.transaction(async (tx) => {
      if (!(await plugin.profiles.hold(tx, [live])).has(live)) throw new NotFoundError('profile', live);
      return storeText(tx, {
        sourceKey: `feedback:${randomUUID()}`, profileId: live, channel: channel?.trim() || 'feedback', topic: topic?.trim() || DEFAULT_TOPIC, body: text,
      });
    });
    analyseSoon([textId!]);
    const [row] = await plugin.db.query<Parameters<typeof toTextRow>[0]>(`SELECT ${TEXT_COLUMNS} FROM sentiment_text WHERE id = $1`, [textId]);
    return toTextType(toTextRow(row!));
  }

  @Authorized(HANDOFF_PERMISSION)
  @Query(() => HandoffConnection, { description: 'Hand-off cases, oldest first (sentiment plugin). Default status: open.' })
  async handoffQueue(
    @Ctx() ctx: RequestContext,
    @Arg('status', () => String, { defaultValue: 'open', description: '`open`, `assigned`, `resolved` or `active` (open or assigned).' }) status: string,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<HandoffConnection> {
    checkFirst(first, MAX_PAGE);
    const statuses = status === 'active' ? ['open', 'assigned'] : [status];
    if (!['open', 'assigned', 'resolved', 'active'].includes(status)) {
      throw new ValidationError('status', 'oneOf', `must be open, assigned, resolved or active, got "${status}"`);
    }
    const from = after ? String(decodeCursor(after)[0]) : null;
    const rows = await sl(ctx).plugin.db.query<HandoffRow>(
      `SELECT * FROM sentiment_handoff WHERE status = ANY($1::text[]) AND ($2::bigint IS NULL OR id > $2::bigint) ORDER BY id LIMIT $3`,
      [statuses, from, first + 1],
    );
    const nodes = rows.slice(0, first).map(toHandoff);
    const last = nodes[nodes.length - 1];
    return { nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor([last.id]) : null } };
  }

  @Authorized(HANDOFF_PERMISSION)
  @Mutation(() => HandoffType, { description: 'Assigns an open or assigned case to a person (default: the calling key).' })
  async assignHandoff(
    @Ctx() ctx: RequestContext,
    @Arg('id', () => ID) id: string,
    @Arg('assignee', () => String, { nullable: true }) assignee?: string | null,
  ): Promise<HandoffType> {
    const who = assignee?.trim() || ctx.caller.name || ctx.caller.keyId;
    const [row] = await sl(ctx).plugin.db.query<HandoffRow>(
      `UPDATE sentiment_handoff SET status = 'assigned', assignee = $2, assigned_at = now() WHERE id = $1 AND status <> 'resolved' RETURNING *`,
      [caseId(id), who.slice(0, 200)],
    );
    if (!row) throw await missingOrResolved(ctx, id);
    return toHandoff(row);
  }

  @Authorized(HANDOFF_PERMISSION)
  @Mutation(() => HandoffType, { description: 'Resolves a case with a note. A new case for the same person and topic waits for the cooldown.' })
  async resolveHandoff(@Ctx() ctx: RequestContext, @Arg('id', () => ID) id: string, @Arg('note', () => String) note: string): Promise<HandoffType> {
    if (!note.trim()) throw new ValidationError('note', 'required', 'say how the case was resolved');
    if (note.length > 10_000) throw new ValidationError('note', 'maxLength', `at most 10000 characters, got ${note.length}`);
    const [row] = await sl(ctx).plugin.db.query<HandoffRow>(
      `UPDATE sentiment_handoff SET status = 'resolved', note = $2, resolved_at = now() WHERE id = $1 AND status <> 'resolved' RETURNING *`,
      [caseId(id), note],
    );
    if (!row) throw await missingOrResolved(ctx, id);
    return toHandoff(row);
  }

  @Authorized(Permission.PluginsManage)
  @Query(() => [SkipCountType], { description: 'Event texts not analysed, by reason (sentiment plugin).' })
  async sentimentSkipped(@Ctx() ctx: RequestContext): Promise<SkipCountType[]> {
    const rows = await sl(ctx).plugin.db.query<{ reason: string; count: string }>('SELECT reason, count FROM sentiment_skip ORDER BY reason');
    return rows.map((r) => ({ reason: r.reason, count: Number(r.count) }));
  }
}

interface HandoffRow {
  id: string;
  profile_id: string;
  topic: string;
  status: string;
  reasons: string[];
  text_ids: string[];
  assignee: string | null;
  note: string | null;
  opened_at: Date;
  assigned_at: Date | null;
  resolved_at: Date | null;
}

function toHandoff(r: HandoffRow): HandoffType {
  return {
    id: String(r.id), profileId: r.profile_id, topic: r.topic, status: r.status, reasons: r.reasons, textIds: r.text_ids.map(String),
    assignee: r.assignee, note: r.note, openedAt: r.opened_at, assignedAt: r.assigned_at, resolvedAt: r.resolved_at,
  };
}

function caseId(id: string): string {
  if (!/^\d{1,18}$/.test(id)) throw new ValidationError('id', 'format', `a hand-off case id is a number, got "${id.slice(0, 40)}"`);
  return id;
}

async function missingOrResolved(ctx: RequestContext, id: string): Promise<Error> {
  const [r] = await sl(ctx).plugin.db.query<{ status: string }>('SELECT status FROM sentiment_handoff WHERE id = $1', [id]);
  return r ? new ValidationError('id', 'state', `hand-off case ${id} is already resolved`) : new NotFoundError('hand-off case', id);
}
