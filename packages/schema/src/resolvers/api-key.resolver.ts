import { Permission } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { RapportContext } from '../context';
import { CreateApiKeyInput } from '../inputs/api-key.input';
import { ApiKeyType, CreatedApiKey } from '../types/api-key.type';

/** API key administration. */
@Resolver()
export class ApiKeyResolver {
  @Authorized(Permission.KeysManage)
  @Query(() => [ApiKeyType], { description: 'Every API key, newest first.' })
  apiKeys(@Ctx() ctx: RapportContext) {
    return ctx.services.keys.list();
  }

  @Authorized(Permission.KeysManage)
  @Mutation(() => CreatedApiKey, { description: 'Creates a key. Its secret is returned once, here.' })
  async createApiKey(@Arg('input') input: CreateApiKeyInput, @Ctx() ctx: RapportContext): Promise<CreatedApiKey> {
    const { key, record } = await ctx.services.keys.create(input);
    ctx.logger.info({ keyId: record.id, roles: record.roles, by: ctx.caller.keyId }, 'api key created');
    return { key, apiKey: record };
  }

  @Authorized(Permission.KeysManage)
  @Mutation(() => ApiKeyType, { description: 'Revokes a key; it stops working at once.' })
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: RapportContext) {
    const record = await ctx.services.keys.revoke(id);
    ctx.logger.info({ keyId: id, by: ctx.caller.keyId }, 'api key revoked');
    return record;
  }
}
