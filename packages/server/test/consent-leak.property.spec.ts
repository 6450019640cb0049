import fc from 'fast-check';
import { createTestEnvironment, type TestEnvironment } from '@rapport/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
// A plain ES module shared with bench/consent-leak.bench.mjs (the same generator and oracle at 10,000+ cases).
// @ts-ignore: no type declarations for the .mjs module
import { caseArb, familyOf, FAMILIES, prepareWorld, report, runCase, SERVER_CONFIG } from '../../../bench/lib/consent-leak.mjs';

/**
 * Black-box, property-based consent leak test through the real HTTP API (issue 12, point 5).
 *
 * Each case creates, through the public API only, policies on data elements (setFieldPolicy /
 * deleteFieldPolicy: trait keys and paths, identity types, event payload keys, collections),
 * keys (createApiKey, with roles and purposes, cached per signature), and new people whose every
 * trait, identity, event property and context holds a unique secret, with consents arriving in
 * their events (context.consent.categoryPreferences and `Consent Updated` tracks: every legal
 * basis, granted, denied, expired, stale), some merged (alias, or mergeProfiles). It then reads
 * them with random GraphQL operations (aliases, named / inline / split fragments, variables, GET
 * and POST, lookups and filters, random keys and x-rapport-purpose headers). The oracle, written
 * from docs/consent.md and not from the guard's code, says which secrets are denied (they must not
 * appear anywhere in the body, in any form), which are allowed (they must appear where asked), and
 * which profiles a lookup or filter may find.
 *
 * One property per family of violations, so each family shrinks to its own minimal case.
 * CONSENT_LEAK_RUNS sets the cases per family (default 40), CONSENT_LEAK_SEED the seed.
 */
const RUNS = Number(process.env.CONSENT_LEAK_RUNS ?? 40);
const SEED = Number(process.env.CONSENT_LEAK_SEED ?? 20261205);

let env: TestEnvironment;
let world: any;
beforeAll(async () => {
  env = await createTestEnvironment(SERVER_CONFIG);
  world = await prepareWorld({ url: env.url, keys: env.keys });
});
afterAll(async () => env?.close());

describe('consent leak (black box, property-based)', () => {
  (FAMILIES as [string, string][]).forEach(([family, title], i) => {
    it(title, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const violations = (await runCase(world, c)).filter((v: unknown) => familyOf(v) === family);
          if (violations.length) throw new Error(report(c, violations));
        }),
        // A run cut short by the time limit fails (never a silent green with fewer cases); a failure
        // found is reported with the smallest counterexample shrunk by then.
        { numRuns: RUNS, seed: SEED + i, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
      );
    }, 300_000);
  });
});
