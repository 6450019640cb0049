import fc from 'fast-check';
import { graphql, type GraphQLSchema } from 'graphql';
import type { ConsentRecord, FieldPolicy } from '@rapport/core/internal';
import { AccessDecider, buildRapportSchema, createContext, createLoaders, RequestGuard, type RapportContext } from '@rapport/schema/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';

/**
 * Property-based leak test of the field guard. For thousands of random policies, consents,
 * roles, purposes and query shapes (aliases, fragments, lists, single profiles), executed against
 * the guarded schema on real stored profiles, an independent oracle says which values may be
 * seen. No denied value may appear anywhere in the response, and every allowed one must.
 */
const PURPOSES = ['analytics', 'personalization', 'marketing', 'support'];
const BASIS: Record<string, string> = { analytics: 'legitimate_interest', personalization: 'consent', marketing: 'consent', support: 'contract' };
const TRAITS = ['t0', 't1', 't2', 't3'];
const PII = ['t3'];
const ROLES = ['app', 'ingest'];
const N = 4;

let env: TestEnvironment;
let schema: GraphQLSchema;
const ids: string[] = [];
const secret = (p: number, field: string) => `S${p}${field}Z`;

beforeAll(async () => {
  env = await createTestEnvironment();
  for (let p = 0; p < N; p++) {
    const traits = Object.fromEntries(TRAITS.map((t) => [t, secret(p, t)]));
    const r = await env.post('/v1/identify', { anonymousId: `pg-${p}`, traits }, { key: env.keys.admin });
    ids.push(r.body.profileId);
    await env.post('/v1/track', { anonymousId: `pg-${p}`, event: 'E', properties: { secret: secret(p, 'events') } });
  }
  schema = await buildRapportSchema([]);
});
afterAll(async () => env?.close());

type Decision = 'granted' | 'denied' | 'absent';
const policyArb = (field: string) =>
  fc.record({
    field: fc.constant(field),
    purposes: fc.subarray(PURPOSES),
    roles: fc.subarray(ROLES),
    mask: fc.constantFrom('null', 'mask', 'hash') as fc.Arbitrary<'null' | 'mask' | 'hash'>,
  });
const caseArb = fc.record({
  policies: fc.tuple(...[...TRAITS.map((t) => `traits.${t}`), 'events'].map((f) => fc.option(policyArb(f), { nil: null }))),
  consents: fc.array(fc.tuple(...PURPOSES.map(() => fc.constantFrom<Decision>('granted', 'denied', 'absent'))), { minLength: N, maxLength: N }),
  role: fc.constantFrom(...ROLES),
  purpose: fc.option(fc.constantFrom(...PURPOSES), { nil: null }),
  shape: fc.record({
    list: fc.boolean(),
    fragment: fc.boolean(),
    traitsJson: fc.boolean(),
    traitKeys: fc.subarray(TRAITS, { minLength: 1 }),
    events: fc.boolean(),
    alias: fc.boolean(),
  }),
});

/** The oracle: an independent reading of the rules (not the CASL code). */
function allowed(field: string, policies: Map<string, { purposes: string[]; roles: string[] }>, role: string, purpose: string | null, consent: Record<string, Decision>): boolean {
  const p = policies.get(field);
  if (!p) return !(field.startsWith('traits.') && PII.includes(field.slice(7)));
  if (p.roles.length && !p.roles.includes(role)) return false;
  if (!p.purposes.length) return true;
  if (!purpose || !p.purposes.includes(purpose)) return false;
  return BASIS[purpose] === 'consent' ? consent[purpose] === 'granted' : consent[purpose] !== 'denied';
}

function queryOf(shape: fc.RecordValue<typeof caseArb>['shape']): string {
  const sel = [
    ...(shape.traitsJson ? ['traits'] : []),
    ...shape.traitKeys.map((k, i) => `${shape.alias ? `k${i}` : k}: trait(key: "${k}")`),
    ...(shape.events ? ['events(first: 5) { nodes { properties } }'] : []),
  ].join(' ');
  const body = shape.fragment ? '...F' : sel;
  const fragment = shape.fragment ? `fragment F on Profile { id ${sel} }` : '';
  const root = shape.list ? `profiles(first: 50) { nodes { id ${body} } }` : ids.map((id, i) => `p${i}: profile(id: "${id}") { id ${body} }`).join(' ');
  return `${fragment} query { ${root} }`;
}

describe('field guard (property-based)', () => {
  it('never leaks a denied value and always returns an allowed one', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const fields = [...TRAITS.map((t) => `traits.${t}`), 'events'];
        const policies: FieldPolicy[] = [];
        const byField = new Map<string, { purposes: string[]; roles: string[] }>();
        c.policies.forEach((p, i) => {
          if (!p) return;
          policies.push({ id: String(i), type: 'Profile', field: p.field, purposes: p.purposes, roles: p.roles, mask: p.mask, pii: false, updatedAt: new Date() });
          byField.set(p.field, p);
        });
        const consentOf = (i: number) => Object.fromEntries(PURPOSES.map((p, k) => [p, c.consents[i][k]])) as Record<string, Decision>;
        const records = (id: string): ConsentRecord[] => {
          const i = ids.indexOf(id);
          return Object.entries(consentOf(i))
            .filter(([, d]) => d !== 'absent')
            .map(([purpose, d]) => ({ profileId: id, purpose, granted: d === 'granted', source: 'test', at: new Date(), expiresAt: null }));
        };
        const ctx = (await createContext({
          core: env.server.core, key: { id: 'k', name: 'prop', prefix: 'k', roles: [c.role], purposes: [], createdAt: new Date(), lastUsedAt: null, revokedAt: null },
          requestId: 'r', purpose: c.purpose, logger: env.server.core.logger, loaders: () => createLoaders(env.server.core),
        })) as RapportContext;
        ctx.guard = new RequestGuard(
          new AccessDecider({ policies, roles: [c.role], purpose: c.purpose, piiTraits: PII, legalBasis: new Map(Object.entries(BASIS)) }),
          async (id) => records(id),
        );
        // Reading profiles needs profiles:read; the guard is what is under test, so the caller reads as an app would.
        ctx.can = () => true;
        ctx.require = () => undefined;
        const res = await graphql({ schema, source: queryOf(c.shape), contextValue: ctx });
        const text = JSON.stringify(res.data);
        expect(res.errors?.filter((e) => !['FORBIDDEN_FIELD', 'CONSENT_REQUIRED'].includes(String(e.extensions?.code))) ?? []).toEqual([]);
        for (let i = 0; i < N; i++) {
          const consent = consentOf(i);
          for (const f of fields) {
            const asked = f === 'events' ? c.shape.events : c.shape.traitsJson || c.shape.traitKeys.includes(f.slice(7));
            if (!asked) continue;
            const ok = allowed(f, byField, c.role, c.purpose, consent);
            const value = secret(i, f === 'events' ? 'events' : f.slice(7));
            if (ok) expect(text, `${f} of profile ${i} should be visible`).toContain(value);
            else expect(text, `${f} of profile ${i} leaked`).not.toContain(value);
          }
        }
      }),
      { numRuns: Number(process.env.LEAK_RUNS ?? 1500), seed: Number(process.env.LEAK_SEED ?? 20261122) },
    );
  }, 300_000);
});
