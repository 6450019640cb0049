import { CORE_VERSION, currentBackend } from '@rapport/core/internal';
import { Ctx, Query, Resolver } from 'type-graphql';
import type { RapportContext } from '../context';
import { HealthType } from '../types/health.type';

/** What this node runs; any valid key may ask. */
@Resolver()
export class HealthResolver {
  @Query(() => HealthType)
  async health(@Ctx() ctx: RapportContext): Promise<HealthType> {
    await ctx.core.db.query('SELECT 1');
    const lag = new Map((await ctx.core.services.delivery.status()).map((s) => [s.consumer, s]));
    return {
      status: 'ok',
      version: CORE_VERSION,
      database: ctx.core.config.database.url ? 'external' : 'embedded',
      plugins: await Promise.all(
        ctx.core.plugins.map(async (p) => ({
          name: p.name,
          version: p.version ?? null,
          deliveryLag: lag.get(p.name)?.lag ?? null,
          deliveryLagSeconds: lag.get(p.name)?.lagSeconds ?? null,
          status: p.status ? await (async () => p.status!(ctx.core.pluginContext(p)))().catch((err: unknown) => ({ error: (err as Error).message })) : null,
        })),
      ),
      mlBackend: currentBackend(),
    };
  }
}
