// The black-box consent leak test at scale: the generator and oracle of
// packages/server/test/consent-leak.property.spec.ts (shared in bench/lib/consent-leak.mjs), run for
// >= 10,000 cases against a started server (bench/lib/server-process.mjs, from the built packages),
// counting leaks and allowed-but-missing values by kind, with one example of each.
//
// Usage: npm run build && node bench/consent-leak.bench.mjs
//   CONSENT_LEAK_CASES   cases to run (default 10000)
//   CONSENT_LEAK_SEED    seed (default 20261205)
//   CONSENT_LEAK_SHRINK  after the run, shrink a minimal counterexample for each kind found
//                        ("all", or a comma-separated list of family names: profile, identities,
//                        events, merges, errors, lookups, missing, protocol)
//   CONSENT_LEAK_SAVE    write the summary to bench/results/consent-leak.json as well
// Prints a JSON summary on stdout (the shrunk counterexamples go to stderr).
import fs from 'node:fs';
import fc from 'fast-check';
import { startServerProcess } from './lib/server-process.mjs';
import { machine } from './lib/machine.mjs';
import { caseArb, categoryOf, familyOf, FAMILIES, prepareWorld, report, runCase, SERVER_CONFIG } from './lib/consent-leak.mjs';

const CASES = Number(process.env.CONSENT_LEAK_CASES ?? 10_000);
const SEED = Number(process.env.CONSENT_LEAK_SEED ?? 20261205);
const SHRINK = process.env.CONSENT_LEAK_SHRINK ?? '';
const CHUNK = 500;

const server = await startServerProcess(SERVER_CONFIG);
let output = null;
try {
  const world = await prepareWorld({ url: server.url, keys: server.keys });
  const started = Date.now();
  const byCategory = new Map(); // category -> { family, count, cases, example }
  const byCause = new Map(); // category + the rule that should have denied -> count
  const stats = { cases: 0, casesWithLeaks: 0, casesWithMissing: 0, casesFailed: 0, leaks: 0, missing: 0, lookupOracles: 0, other: 0, crashed: 0, queries: 0 };
  const crashes = [];
  const rng = fc.sample(fc.integer(), { numRuns: Math.ceil(CASES / CHUNK), seed: SEED });
  for (let chunk = 0; stats.cases < CASES; chunk++) {
    const cases = fc.sample(caseArb, { numRuns: Math.min(CHUNK, CASES - stats.cases), seed: rng[chunk] });
    for (const c of cases) {
      stats.cases++;
      stats.queries += c.queries.length;
      let violations;
      try {
        violations = await runCase(world, c);
      } catch (err) {
        stats.crashed++;
        if (crashes.length < 5) crashes.push(String(err?.stack ?? err).slice(0, 1000));
        continue;
      }
      if (violations.length) stats.casesFailed++;
      if (violations.some((v) => v.kind === 'leak' || v.kind === 'match')) stats.casesWithLeaks++;
      if (violations.some((v) => v.kind === 'missing')) stats.casesWithMissing++;
      const seen = new Set();
      for (const v of violations) {
        if (v.kind === 'leak') stats.leaks++;
        else if (v.kind === 'match') stats.lookupOracles++;
        else if (v.kind === 'missing') stats.missing++;
        else stats.other++;
        const cat = categoryOf(v);
        if (v.cause) byCause.set(`${cat} <- ${v.cause}`, (byCause.get(`${cat} <- ${v.cause}`) ?? 0) + 1);
        let e = byCategory.get(cat);
        if (!e) byCategory.set(cat, (e = { family: familyOf(v), count: 0, cases: 0, example: report(c, [v], 1) }));
        e.count++;
        if (!seen.has(cat)) e.cases++;
        seen.add(cat);
      }
      if (stats.cases % 500 === 0) {
        process.stderr.write(`${stats.cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s: ${stats.casesWithLeaks} with leaks, ${stats.casesWithMissing} with missing values, ${stats.crashed} crashed\n`);
      }
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const kinds = [...byCategory.entries()].sort((a, b) => b[1].cases - a[1].cases).map(([category, e]) => ({ category, family: e.family, violations: e.count, cases: e.cases }));
  const result = {
    bench: 'consent-leak',
    date: new Date().toISOString(),
    machine: machine(),
    seed: SEED,
    cases: stats.cases,
    queries: stats.queries,
    seconds: +seconds.toFixed(1),
    casesPerSecond: +(stats.cases / seconds).toFixed(1),
    casesFailed: stats.casesFailed,
    casesWithLeaks: stats.casesWithLeaks,
    casesWithMissing: stats.casesWithMissing,
    leaksFound: stats.leaks,
    lookupOracles: stats.lookupOracles,
    allowedButMissing: stats.missing,
    otherViolations: stats.other,
    crashed: stats.crashed,
    kinds,
    causes: Object.fromEntries([...byCause.entries()].sort((a, b) => b[1] - a[1])),
    examples: Object.fromEntries([...byCategory.entries()].map(([k, e]) => [k, e.example])),
    crashes,
  };

  // Shrinking: for each family found (or those named), a fresh fast-check run that fails only on
  // that family, shrunk to a minimal case.
  if (SHRINK) {
    const wanted = SHRINK === 'all' ? FAMILIES.map(([f]) => f) : SHRINK.split(',');
    result.shrunk = {};
    for (const family of wanted) {
      if (!kinds.some((k) => k.family === family)) continue;
      const out = await fc.check(
        fc.asyncProperty(caseArb, async (c) => {
          const v = (await runCase(world, c)).filter((x) => familyOf(x) === family);
          if (v.length) throw new Error(report(c, v, 2));
        }),
        { numRuns: 2000, seed: SEED, interruptAfterTimeLimit: 600_000 },
      );
      if (out.failed) {
        const text = String(out.errorInstance?.message ?? out.error);
        result.shrunk[family] = { numRuns: out.numRuns, numShrinks: out.numShrinks, counterexample: text };
        process.stderr.write(`\n=== ${family}: minimal counterexample after ${out.numRuns} runs, ${out.numShrinks} shrinks ===\n${text}\n`);
      }
    }
  }

  output = result;
} finally {
  await server.stop(); // before printing: the server's shutdown logs go to the same stdout
}
if (output) {
  if (process.env.CONSENT_LEAK_SAVE) fs.writeFileSync(new URL('./results/consent-leak.json', import.meta.url), JSON.stringify(output, null, 2) + '\n');
  const { examples, ...summary } = output;
  console.log(JSON.stringify(summary, null, 2));
  process.stderr.write(`\nOne example of each kind:\n${Object.entries(examples).map(([k, e]) => `\n## ${k}\n${e}`).join('\n')}\n`);
}
