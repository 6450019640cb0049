import type { ApolloServerPlugin } from '@apollo/server';
import type { RapportContext } from '@rapport/schema/internal';
import type { RapportCore } from '@rapport/core/internal';

/**
 * Adds the field guard's errors (FORBIDDEN_FIELD, CONSENT_REQUIRED, with paths) to the response,
 * and makes the audit log hold the request's reads of personal data: what the guard audited that the
 * reads' statements did not already write (`RequestGuard.auditWork`).
 */
export function guardPlugin(core: RapportCore): ApolloServerPlugin<RapportContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue: ctx, response }) {
          const guard = ctx.guard;
          if (!guard) return;
          if (guard.errors.length && response.body.kind === 'single') {
            const result = response.body.singleResult;
            result.errors = [...(result.errors ?? []), ...guard.errors.map((e) => e.toJSON())];
          }
          // What the reads' own statements did not write as the guard decided it (usually nothing), committed
          // before the response leaves (concurrent requests share the write of new entries).
          const { record, update, remove } = guard.auditWork();
          await Promise.all([
            core.services.readAudit.record(
              record.map((e) => ({ keyId: ctx.caller.keyId, actor: ctx.caller.name, profileId: e.profileId, fields: e.fields, purpose: ctx.purpose, requestId: ctx.requestId })),
            ),
            core.services.readAudit.amend(update, remove),
          ]);
        },
      };
    },
  };
}
