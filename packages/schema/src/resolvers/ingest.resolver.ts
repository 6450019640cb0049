import { Permission, RapportError, type MessageType } from '@rapport/core/internal';
import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import type { RapportContext } from '../context';
import { AliasInput, GroupInput, IdentifyInput, PageInput, ScreenInput, TrackInput } from '../inputs/ingest.input';
import { IngestResultType } from '../types/ingest.type';

async function send(ctx: RapportContext, type: MessageType, input: object): Promise<IngestResultType> {
  const { accepted, rejected } = await ctx.services.ingestion.ingest([{ ...input, type }], {
    impliedType: type, sourceKeyId: ctx.caller.keyId, sourceName: ctx.caller.name,
  });
  if (rejected.length) {
    const r = rejected[0];
    throw new RapportError(r.code as never, r.field ? `input.${r.message}` : r.message, r.field ? `input.${r.field}` : undefined, r.rule);
  }
  const a = accepted[0];
  return {
    messageId: a.messageId, duplicate: a.duplicate, warnings: a.warnings,
    profileId: ctx.can(Permission.ProfilesRead) ? a.profileId : null,
  };
}

/** The Segment spec calls as GraphQL mutations; same validation, stitching and dedupe as HTTP. */
@Resolver()
export class IngestResolver {
  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'Who the person is, and their traits.' })
  identify(@Arg('input') input: IdentifyInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'identify', input);
  }

  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'Something the person did.' })
  track(@Arg('input') input: TrackInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'track', input);
  }

  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'A page the person viewed.' })
  page(@Arg('input') input: PageInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'page', input);
  }

  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'A mobile screen the person viewed.' })
  screen(@Arg('input') input: ScreenInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'screen', input);
  }

  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'A group (account, company) the person belongs to.' })
  group(@Arg('input') input: GroupInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'group', input);
  }

  @Authorized(Permission.EventsWrite)
  @Mutation(() => IngestResultType, { description: 'previousId and userId are the same person: merge their profiles.' })
  alias(@Arg('input') input: AliasInput, @Ctx() ctx: RapportContext) {
    return send(ctx, 'alias', input);
  }
}
