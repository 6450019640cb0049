import type { ApolloServerPlugin } from '@apollo/server';
import type { RapportContext } from '@rapport/schema/internal';
import type { RapportCore } from '@rapport/core/internal';

/**
 * Adds the field guard's errors (FORBIDDEN_FIELD, CONSENT_REQUIRED, with paths) to the response,
 * and writes the request's reads of personal data to the audit log.
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
          const entries = guard.auditEntries();
          // Committed before the response leaves (concurrent requests share the write).
          await core.services.readAudit.record(
            entries.map((e) => ({ keyId: ctx.caller.keyId, actor: ctx.caller.name, profileId: e.profileId, fields: e.fields, purpose: ctx.purpose, requestId: ctx.requestId })),
          );
        },
      };
    },
  };
}
