import { checkFirst, createLoadersKey, decodeCursor, encodeCursor, Permission, ValidationError, type ProfileRecord } from '@rapport/core';
import { Governed, JSONObjectScalar, PageInfo, Profile, type FallbackRoot, type RequestContext } from '@rapport/schema';
import type DataLoader from 'dataloader';
import { Arg, Authorized, Ctx, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, FieldResolver } from 'type-graphql';
import type { CatalogSnapshot } from './catalog-cache';
import type { Runtime } from './runtime';
import { rankForProfile, rankSimilar, type Candidate } from './ranking';
import { completeSql, toItem, upsertCatalogItems, type InteractionRow, type ItemRow } from './store';

/** Permission to write the catalog. */
export const MANAGE = 'recommendations:manage';
/** Largest `first` of recommendation lists. */
export const MAX_RECOMMENDATIONS = 100;
const MAX_ITEMS_PAGE = 100;
const MAX_UPSERT = 1000;
const MAX_EXCLUDE = 1000;

/** What `loaders()` gives resolvers. */
export interface RecLoaders {
  runtime: Runtime;
  history: DataLoader<string, InteractionRow[]>;
  items: DataLoader<string, ItemRow | null>;
}

/** The typed key of the plugin's request loaders. */
export const recLoaders = createLoadersKey<RecLoaders>('recommendations');
const rec = (ctx: RequestContext) => recLoaders.of(ctx);

@ObjectType('Item', { description: 'A catalog item (recommendations plugin): from upsertItems or from e-commerce events.' })
export class ItemType {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) title: string | null;
  @Field(() => String, { nullable: true }) category: string | null;
  @Field(() => Float, { nullable: true }) price: number | null;
  @Field({ description: 'Unavailable items are never recommended.' }) available: boolean;
  @Field(() => JSONObjectScalar) attributes: Record<string, unknown>;
  @Field() createdAt: Date;
  @Field() updatedAt: Date;
}

@ObjectType('Recommendation')
export class RecommendationType {
  @Field(() => ItemType) item: ItemRow;
  @Field(() => Float, { description: 'Ranking score; comparable only between results of the same model.' }) score: number;
  @Field({ description: '`ease` (learned from co-interactions), `attributes` (same category / attributes) or `popularity`.' }) model: string;
  @Field({ description: 'Why, for people: "because you bought X", "popular in Shoes this week", ...' }) reason: string;
}

@ObjectType('ItemEdge')
export class ItemEdge {
  @Field() cursor: string;
  @Field(() => ItemType) node: ItemRow;
}

@ObjectType('ItemConnection', { description: 'A page of catalog items, by id.' })
export class ItemConnection {
  @Field(() => [ItemEdge]) edges: ItemEdge[];
  @Field(() => [ItemType]) nodes: ItemRow[];
  @Field(() => PageInfo) pageInfo: PageInfo;
}

@ObjectType('RecommendationModelStatus', { description: 'What this server serves, and when the next training runs.' })
export class RecommendationModelStatus {
  @Field({ description: 'The trained model loaded on this server (`ease`), or `popularity` when none is. What shoppers get is `served`.' }) model: string;
  @Field({
    description:
      'What a profile with a history gets from this server now: `ease` (a trained model is loaded; attribute picks for items it has not learned), ' +
      '`attributes` (no trained model yet: items like those in the history, popularity fills) or `popularity` (no model and no item has a category or attributes).',
  })
  served: string;
  @Field(() => Int, { nullable: true, description: 'Version of the loaded model.' }) version: number | null;
  @Field(() => Date, { nullable: true, description: 'When the loaded model was stored.' }) trainedAt: Date | null;
  @Field(() => Int, { description: 'Items in the loaded model: every item of its training data (0 without a model).' }) trainedItems: number;
  @Field(() => Int, { description: 'Of `trainedItems`, those with learned neighbours (enough consenting profiles at training time); the others get attribute picks.' })
  learnedItems: number;
  @Field(() => Int, { deprecationReason: 'Ambiguous: use `trainedItems` (the same number: items in the training data) or `learnedItems` (items with learned neighbours).' })
  items: number;
  @Field(() => Int, { description: 'Catalog items that may be recommended now: available, with every required field (`requireFields`, default the title).' })
  recommendableItems: number;
  @Field(() => Int, { nullable: true, description: 'Period of scheduled training in seconds; null when it is off (`trainEvery: 0`).' }) trainEverySeconds: number | null;
  @Field(() => Date, {
    nullable: true,
    description: 'When the next scheduled training starts: the schedule\'s last start (on any server) plus the period. Null before a first version is stored (see `waitingFor`) or with scheduled training off.',
  })
  nextTrainingAt: Date | null;
  @Field(() => String, { nullable: true, description: 'Before the first model: what it waits for, with the counts now. Null once a version is stored.' })
  waitingFor: string | null;
  @Field(() => String, { nullable: true, description: 'Why the newest stored version could not be loaded, if it could not.' }) lastError: string | null;
}

@InputType('ItemInput')
export class ItemInput {
  @Field(() => ID) id: string;
  @Field(() => String, { nullable: true }) title?: string | null;
  @Field(() => String, { nullable: true }) category?: string | null;
  @Field(() => Float, { nullable: true }) price?: number | null;
  @Field(() => Boolean, { nullable: true, description: 'Default true for a new item; omitted keeps the stored value.' }) available?: boolean | null;
  @Field(() => JSONObjectScalar, { nullable: true, description: 'Free attributes (brand, color, tags...), used for similarity of items without history.' })
  attributes?: Record<string, unknown> | null;
}

@InputType('ItemFilter')
export class ItemFilter {
  @Field(() => String, { nullable: true }) category?: string | null;
  @Field(() => Boolean, { nullable: true }) available?: boolean | null;
  @Field(() => [ID], { nullable: true }) ids?: string[] | null;
  @Field(() => Boolean, {
    nullable: true,
    description: 'true: only items missing a field they need before they are recommended (`requireFields`, default the title), such as ids events named that the catalog never did; false: only complete ones.',
  })
  incomplete?: boolean | null;
}

@InputType('RecommendationContext')
export class RecommendationContextInput {
  @Field(() => String, { nullable: true, description: 'Only items of this category; cold start shows what trends in it.' }) category?: string | null;
  @Field(() => [ID], { nullable: true, description: 'Items never to return (e.g. what is on screen).' }) excludeIds?: string[] | null;
  @Field(() => Boolean, { nullable: true, description: 'Also leave out items the profile viewed or added (bought items are always left out). Default false.' })
  excludeInteracted?: boolean | null;
  @Field(() => Boolean, { nullable: true, description: 'Let items the profile bought back in. Default false.' }) includePurchased?: boolean | null;
}

/**
 * Attaches the snapshot's rows (kept current by `applyRows`) and keeps the first `first`. Ranking
 * filtered on the same snapshot in the same tick, so the re-check is a guard, not a second filter.
 */
function finish(s: CatalogSnapshot, cands: Candidate[], first: number, category?: string | null): RecommendationType[] {
  const out: RecommendationType[] = [];
  for (const c of cands) {
    const i = s.index.get(c.itemId);
    const row = i === undefined ? undefined : s.rows[i];
    if (out.length >= first) break;
    if (!row || s.available[i!] !== 1 || (category && row.category !== category)) continue;
    out.push({ item: row, score: c.score, model: c.model, reason: c.reason });
  }
  return out;
}

function checkItemInput(items: ItemInput[]): void {
  if (items.length > MAX_UPSERT) throw new ValidationError('items', 'maxItems', `at most ${MAX_UPSERT} items per call, got ${items.length}`);
  items.forEach((i, k) => {
    if (!i.id.trim() || i.id.length > 200) throw new ValidationError(`items[${k}].id`, 'length', 'must be 1 to 200 characters');
    if (i.price !== undefined && i.price !== null && !(Number.isFinite(i.price) && i.price >= 0 && i.price < 1e12)) {
      throw new ValidationError(`items[${k}].price`, 'range', `must be a number >= 0, got ${i.price}`);
    }
  });
}

/** Catalog queries and mutations. */
@Resolver(() => ItemType)
export class ItemResolver {
  @Authorized(MANAGE)
  @Mutation(() => [ItemType], { description: 'Creates or updates catalog items (recommendations plugin). Omitted fields keep their stored value.' })
  async upsertItems(@Arg('items', () => [ItemInput]) items: ItemInput[], @Ctx() ctx: RequestContext): Promise<ItemRow[]> {
    checkItemInput(items);
    const r = rec(ctx);
    const rows = await upsertCatalogItems(r.runtime.ctx.db, items.map((i) => ({ ...i, id: i.id.trim() })));
    await r.runtime.itemsChanged(rows);
    return rows;
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => ItemType, { nullable: true, description: 'A catalog item by id.' })
  item(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ItemRow | null> {
    return rec(ctx).items.load(id);
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => ItemConnection, { description: 'Catalog items by id (Relay connection).' })
  async items(
    @Arg('filter', () => ItemFilter, { nullable: true }) filter: ItemFilter | null,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<ItemConnection> {
    checkFirst(first, MAX_ITEMS_PAGE);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => where.push(sql.replace('?', `$${params.push(v)}`));
    if (filter?.category !== undefined && filter.category !== null) add('category = ?', filter.category);
    if (filter?.available !== undefined && filter.available !== null) add('available = ?', filter.available);
    if (filter?.ids) add('id = ANY(?::text[])', filter.ids);
    if (filter?.incomplete !== undefined && filter.incomplete !== null) {
      const complete = completeSql(rec(ctx).runtime.opts.requireFields);
      where.push(filter.incomplete ? `NOT (${complete})` : complete);
    }
    if (after) add('id > ?', String(decodeCursor(after)[0]));
    const rows = await rec(ctx).runtime.ctx.db.query(
      `SELECT * FROM rec_item ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.push(first + 1)}`,
      params,
    );
    const nodes = rows.slice(0, first).map(toItem);
    const cursors = nodes.map((n) => encodeCursor([n.id]));
    return {
      nodes, edges: nodes.map((node, i) => ({ node, cursor: cursors[i] })),
      pageInfo: { hasNextPage: rows.length > first, endCursor: cursors.at(-1) ?? null },
    };
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => RecommendationModelStatus, { description: 'The recommendation model this server serves.' })
  async recommendationModel(@Ctx() ctx: RequestContext): Promise<RecommendationModelStatus> {
    const { runtime } = rec(ctx);
    await runtime.start();
    return runtime.status();
  }

  @FieldResolver(() => [RecommendationType], { description: 'Items often chosen with this one (learned), then items with the same category and attributes.' })
  async similarItems(@Root() item: ItemRow, @Arg('first', () => Int, { defaultValue: 10 }) first: number, @Ctx() ctx: RequestContext): Promise<RecommendationType[]> {
    checkFirst(first, MAX_RECOMMENDATIONS);
    const { runtime } = rec(ctx);
    await runtime.start();
    const snapshot = await runtime.catalog.get();
    return finish(snapshot, rankSimilar(snapshot, runtime.model.current, item.id, first), first);
  }
}

/** The arguments of `Profile.recommendations`, as GraphQL passes them (defaults applied). */
export interface RecommendationsArgs {
  first: number;
  context?: RecommendationContextInput | null;
}

function checkRecommendationsArgs(first: number, context: RecommendationContextInput | null | undefined): void {
  checkFirst(first, MAX_RECOMMENDATIONS);
  if ((context?.excludeIds?.length ?? 0) > MAX_EXCLUDE) {
    throw new ValidationError('context.excludeIds', 'maxItems', `at most ${MAX_EXCLUDE} ids, got ${context!.excludeIds!.length}`);
  }
}

/** Ranks from a profile's interactions, or from none (`null`: popularity, nothing of the person's behaviour). */
async function rankFrom(ctx: RequestContext, history: (r: RecLoaders) => Promise<InteractionRow[] | null>, first: number, context: RecommendationContextInput | null | undefined) {
  const r = rec(ctx);
  await r.runtime.start();
  const [snapshot, rows] = await Promise.all([r.runtime.catalog.get(), history(r)]);
  const category = context?.category;
  if (category && !hasCategory(snapshot, category)) {
    ctx.warn({
      code: 'UNKNOWN_CATEGORY', field: 'context.category', rule: 'exists',
      message: `context.category: no catalog item has the category ${JSON.stringify(category)}, so no item can be recommended in it (categories are compared exactly, case included)`,
    });
    return [];
  }
  const cands = rankForProfile(snapshot, r.runtime.model.current, rows, context ?? {}, first);
  return finish(snapshot, cands, first, category);
}

/** True when some catalog item of the snapshot has this category (exactly). */
function hasCategory(s: CatalogSnapshot, category: string): boolean {
  return s.rankedByCategory.has(category) || s.categories.includes(category);
}

/**
 * `Profile.recommendations` for a request the field is denied to because of its purpose: one that
 * does not act for `personalization`, or a person whose consent does not allow it (the guard
 * decides; see `@Governed`). What is popular, exactly what a profile without history gets: it
 * reads nothing of the person's (not their interactions, not even their purchases to leave them
 * out), and does not use the profile id the guard passes.
 */
export function popularRecommendations(_root: FallbackRoot, args: RecommendationsArgs, ctx: RequestContext): Promise<RecommendationType[]> {
  const first = args.first ?? 10;
  checkRecommendationsArgs(first, args.context);
  return rankFrom(ctx, async () => null, first, args.context);
}

/**
 * Adds `Profile.recommendations`. Its items and reasons ("because you bought X") are derived from
 * the person's events for `personalization`, which it declares with `@Governed`: the guard denies
 * it to a request that may not read the profile's `events`, and answers a request that does not act
 * for `personalization`, or a person who did not grant it, with {@link popularRecommendations}
 * (popularity, no error) instead of null. An admin policy on the field replaces the declared
 * purposes; the resolver still uses a history only when the person granted `personalization`.
 */
@Resolver(() => Profile)
export class ProfileRecommendationsResolver {
  @Governed<RecommendationsArgs>({ purposes: ['personalization'], derivesFrom: ['events'], fallback: popularRecommendations })
  @FieldResolver(() => [RecommendationType], {
    description:
      'Recommended items (recommendations plugin), from the current interactions when the request acts for "personalization" and the profile granted it; ' +
      'otherwise, and for profiles without history, what is popular. Bought and unavailable items are left out.',
  })
  async recommendations(
    @Root() p: ProfileRecord,
    @Arg('first', () => Int, { defaultValue: 10 }) first: number,
    @Arg('context', () => RecommendationContextInput, { nullable: true }) context: RecommendationContextInput | null,
    @Ctx() ctx: RequestContext,
  ): Promise<RecommendationType[]> {
    checkRecommendationsArgs(first, context);
    // Reached only when the guard allows the field; the person's own grant is still checked, so
    // an admin policy that opens the field to other purposes never opens the history.
    const personal = ctx.consentOf(p.id).then((c) => c.allows('personalization'));
    return rankFrom(ctx, async (r) => ((await personal) ? r.history.load(p.id) : null), first, context);
  }
}
