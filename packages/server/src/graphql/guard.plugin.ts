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
          if (entries.length) {
            await core.db.query(
              `INSERT INTO rapport_audit_log (key_id, actor, action, profile_id, fields, purpose, request_id)
               SELECT $1, $2, 'read', p, string_to_array(f, ','), $3, $4 FROM unnest($5::uuid[], $6::text[]) AS x(p, f)`,
              [ctx.caller.keyId, ctx.caller.name, ctx.purpose, ctx.requestId, entries.map((e) => e.profileId), entries.map((e) => e.fields.join(','))],
            );
          }
        },
      };
    },
  };
}
