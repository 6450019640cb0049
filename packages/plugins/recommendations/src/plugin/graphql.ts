import { checkFirst, decodeCursor, encodeCursor, Permission, ValidationError, type ProfileRecord } from '@rapport/core';
import { JSONObjectScalar, PageInfo, Profile, type RapportContext } from '@rapport/schema';
import type DataLoader from 'dataloader';
import { Arg, Authorized, Ctx, Extensions, Field, Float, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, FieldResolver } from 'type-graphql';
import type { CatalogSnapshot } from './catalog-cache';
import type { Runtime } from './runtime';
import { rankForProfile, rankSimilar, type Candidate } from './ranking';
import { toItem, upsertCatalogItems, type InteractionRow, type ItemRow } from './store';

/** Permission to write the catalog. */
export const MANAGE = 'recommendations:manage';
/** Largest `first` of recommendation lists. */
export const MAX_RECOMMENDATIONS = 100;
const MAX_ITEMS_PAGE = 100;
const MAX_UPSERT = 1000;
const MAX_EXCLUDE = 1000;

/** What `loaders()` gives resolvers, as `ctx.loaders.plugins.recommendations`. */
export interface RecLoaders {
  runtime: Runtime;
  history: DataLoader<string, InteractionRow[]>;
  items: DataLoader<string, ItemRow | null>;
}

const rec = (ctx: RapportContext) => ctx.loaders.plugins.recommendations as RecLoaders;

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

@ObjectType('RecommendationModelStatus', { description: 'The model this server serves.' })
export class RecommendationModelStatus {
  @Field({ description: '`ease` when a trained version is loaded, else `popularity`.' }) model: string;
  @Field(() => Int, { nullable: true }) version: number | null;
  @Field(() => Date, { nullable: true }) trainedAt: Date | null;
  @Field(() => Int, { description: 'Items the loaded model knows.' }) items: number;
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
    if (!row || !row.available || (category && row.category !== category)) continue;
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
  async upsertItems(@Arg('items', () => [ItemInput]) items: ItemInput[], @Ctx() ctx: RapportContext): Promise<ItemRow[]> {
    checkItemInput(items);
    const r = rec(ctx);
    const rows = await upsertCatalogItems(r.runtime.db, items.map((i) => ({ ...i, id: i.id.trim() })));
    await r.runtime.itemsChanged(rows);
    return rows;
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => ItemType, { nullable: true, description: 'A catalog item by id.' })
  item(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext): Promise<ItemRow | null> {
    return rec(ctx).items.load(id);
  }

  @Authorized(Permission.ProfilesRead)
  @Query(() => ItemConnection, { description: 'Catalog items by id (Relay connection).' })
  async items(
    @Arg('filter', () => ItemFilter, { nullable: true }) filter: ItemFilter | null,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RapportContext,
  ): Promise<ItemConnection> {
    checkFirst(first, MAX_ITEMS_PAGE);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => where.push(sql.replace('?', `$${params.push(v)}`));
    if (filter?.category !== undefined && filter.category !== null) add('category = ?', filter.category);
    if (filter?.available !== undefined && filter.available !== null) add('available = ?', filter.available);
    if (filter?.ids) add('id = ANY(?::text[])', filter.ids);
    if (after) add('id > ?', String(decodeCursor(after)[0]));
    const rows = await rec(ctx).runtime.db.query(
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
  async recommendationModel(@Ctx() ctx: RapportContext): Promise<RecommendationModelStatus> {
    const { runtime } = rec(ctx);
    await runtime.start();
    const m = runtime.model.current;
    return { model: m ? 'ease' : 'popularity', version: m?.version ?? null, trainedAt: m?.createdAt ?? null, items: m?.itemIds.length ?? 0, lastError: runtime.model.lastError };
  }

  @FieldResolver(() => [RecommendationType], { description: 'Items often chosen with this one (learned), then items with the same category and attributes.' })
  async similarItems(@Root() item: ItemRow, @Arg('first', () => Int, { defaultValue: 10 }) first: number, @Ctx() ctx: RapportContext): Promise<RecommendationType[]> {
    checkFirst(first, MAX_RECOMMENDATIONS);
    const { runtime } = rec(ctx);
    await runtime.start();
    const snapshot = await runtime.catalog.get();
    return finish(snapshot, rankSimilar(snapshot, runtime.model.current, item.id, first), first);
  }
}

/**
 * Adds `Profile.recommendations`. Its items and reasons ("because you bought X") are derived from
 * the person's events, so it declares `derivesFrom: ['events']`: a request that may not read the
 * profile's `events` gets null here too.
 */
@Resolver(() => Profile)
export class ProfileRecommendationsResolver {
  @Extensions({ derivesFrom: ['events'] })
  @FieldResolver(() => [RecommendationType], {
    description:
      'Recommended items (recommendations plugin), from the current interactions when the profile granted "personalization"; ' +
      'otherwise, and for profiles without history, what is popular. Bought and unavailable items are left out.',
  })
  async recommendations(
    @Root() p: ProfileRecord,
    @Arg('first', () => Int, { defaultValue: 10 }) first: number,
    @Arg('context', () => RecommendationContextInput, { nullable: true }) context: RecommendationContextInput | null,
    @Ctx() ctx: RapportContext,
  ): Promise<RecommendationType[]> {
    checkFirst(first, MAX_RECOMMENDATIONS);
    if ((context?.excludeIds?.length ?? 0) > MAX_EXCLUDE) {
      throw new ValidationError('context.excludeIds', 'maxItems', `at most ${MAX_EXCLUDE} ids, got ${context!.excludeIds!.length}`);
    }
    const r = rec(ctx);
    const [consent] = await Promise.all([ctx.consentOf(p.id), r.runtime.start()]);
    const personal = consent.allows('personalization');
    const [snapshot, history] = await Promise.all([r.runtime.catalog.get(), personal ? r.history.load(p.id) : Promise.resolve(null)]);
    const cands = rankForProfile(snapshot, r.runtime.model.current, history, context ?? {}, first);
    return finish(snapshot, cands, first, context?.category);
  }
}
