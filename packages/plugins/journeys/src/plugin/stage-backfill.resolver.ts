/** `JourneyDefinition.backfill`: the progress of a definition's trait copy and evaluation (stage.traits.ts, stage.jobs.ts). */
import type { RequestContext } from '@rapport/schema';
import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import { journeysLoaders } from './journeys.loaders';
import { JourneyBackfillType } from './stage-backfill.types';
import { JourneyDefinitionType } from './stage.types';
import { loadCopies, type TraitCopy } from './trait-copy.store';

/** The copies of every journey, read once per request (the first `backfill` field asked). */
const copiesOf = new WeakMap<object, Promise<Map<string, TraitCopy>>>();

@Resolver(() => JourneyDefinitionType)
export class JourneyBackfillResolver {
  @FieldResolver(() => JourneyBackfillType, { description: 'Where the background work of this definition stands: trait copy, then evaluation.' })
  async backfill(@Root() j: JourneyDefinitionType, @Ctx() ctx: RequestContext): Promise<JourneyBackfillType> {
    let copies = copiesOf.get(ctx);
    if (!copies) {
      const { plugin, stages } = journeysLoaders.of(ctx);
      copies = stages.journeys().then((all) => loadCopies(plugin.db, [...new Set([j.name, ...all.map((x) => x.name)])]));
      copiesOf.set(ctx, copies);
    }
    const copy = (await copies).get(j.name);
    const state = copy?.state === 'copying' ? 'copying' : j.ready ? 'done' : 'evaluating';
    return {
      state, keys: copy?.keys ?? [], copied: copy?.people ?? 0, total: copy ? (copy.total === null ? null : Math.max(copy.total, copy.people)) : 0,
      values: copy?.copied ?? 0, error: copy?.error ?? null,
    };
  }
}
