import { Permission } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { RapportContext } from '../context';
import { DeadLetterType, DeliveryStatusType, ReplayResultType } from '../types/delivery.type';

/** Plugins' durable event delivery, for operators: lag, errors, dead letters and replay. */
@Resolver()
export class DeliveryResolver {
  @Authorized(Permission.PluginsManage)
  @Query(() => [DeliveryStatusType], { description: "Each plugin's event delivery: how far behind it is and why." })
  async deliveryStatus(@Ctx() ctx: RapportContext): Promise<DeliveryStatusType[]> {
    return ctx.core.services.delivery.status();
  }

  @Authorized(Permission.PluginsManage)
  @Query(() => [DeadLetterType], { description: 'Changes plugins kept failing on, oldest first.' })
  async deadLetters(
    @Ctx() ctx: RapportContext,
    @Arg('consumer', () => String, { nullable: true }) consumer: string | null,
    @Arg('first', () => Int, { defaultValue: 100, description: '1 to 1,000.' }) first: number,
    @Arg('includeReplayed', { defaultValue: false }) includeReplayed: boolean,
  ): Promise<DeadLetterType[]> {
    return ctx.core.services.delivery.deadLetters({ consumer, first, includeReplayed });
  }

  @Authorized(Permission.PluginsManage)
  @Mutation(() => [ReplayResultType], { description: 'Hands dead letters to their plugins again; those now accepted are marked replayed.' })
  async replayDeadLetters(@Ctx() ctx: RapportContext, @Arg('ids', () => [ID]) ids: string[]): Promise<ReplayResultType[]> {
    return ctx.core.services.delivery.replay(ids);
  }
}
