// What a plugin costs in ingestion rate: runs bench/ingest.bench.mjs in pairs, without and with the plugin, the order
// alternating from pair to pair (so a machine that drifts favours neither side), each run a fresh server and embedded
// database, and reports each pair's ratio (with / without, events per second while the batches are answered) and their
// median, with the CPU per event of the server and its database. One run that fails to start is tried again (the
// embedded database can lose its port to another process); anything else stops the bench.
// --baseline <dir>: another checkout of Rapport, built (`git worktree add /tmp/before <commit> && cd /tmp/before &&
// npm ci && npx tsc -b`), measured the same way by turns with this one (its pair, then this one's, the order of the
// trees and of without/with reversed every other pair), so a change is judged against the code before it in the same
// minutes of the same machine.
// Usage: npx tsc -b && flock -x /tmp/rapport-bench.lock node bench/ingest-plugin-pairs.bench.mjs [--plugin journeys] [--pairs 8] [--baseline dir] [--journey] [--events N] [--step-back-share S]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberArg, stringArg } from './lib/args.mjs';
import { machine } from './lib/machine.mjs';

const PLUGIN = stringArg('plugin', 'journeys');
const PAIRS = numberArg('pairs', 8);
const BASELINE = stringArg('baseline', null);
// --journey: passed to the runs with the plugin (journeys: a journey whose rules read every event the bench sends).
const EXTRA = process.argv.includes('--journey') ? ['--journey'] : [];
// --step-back-share S: passed to the runs with the plugin (delivery.stepBackShare; 1: deliveries never step back).
const STEP_BACK = stringArg('step-back-share', null);
if (STEP_BACK !== null) EXTRA.push('--step-back-share', STEP_BACK);
// --events N: messages per run (bench/ingest.bench.mjs's default 50,000), for both sides: a longer run shows what a
// plugin whose delivery lags in a burst costs when the burst lasts.
const EVENTS = numberArg('events', null);
const SIZE = EVENTS ? ['--events', String(EVENTS), '--users', String(Math.max(1, Math.round(EVENTS / 5)))] : [];
if (BASELINE && !fs.existsSync(path.join(BASELINE, 'bench/ingest.bench.mjs'))) throw new Error(`--baseline: ${BASELINE} holds no bench/ingest.bench.mjs`);
const TREES = BASELINE ? { baseline: path.resolve(BASELINE), current: process.cwd() } : { current: process.cwd() };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-pairs-'));

function run(tree, label, withPlugin) {
  const out = path.join(dir, `${label}.json`);
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync(process.execPath, ['bench/ingest.bench.mjs', ...SIZE, ...(withPlugin ? ['--plugins', PLUGIN, ...EXTRA] : []), '--out', out], { cwd: tree, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status === 0) return JSON.parse(fs.readFileSync(out, 'utf8'));
    if (attempt >= 2) throw new Error(`bench/ingest.bench.mjs (${label}) failed: ${r.stderr.slice(-2000)}`);
    console.error(`${label}: failed to run (${r.stderr.split('\n').find((l) => l.includes('Error')) ?? r.status}); trying again`);
  }
}

const pairs = { baseline: [], current: [] };
for (let i = 1; i <= PAIRS; i++) {
  const order = i % 2 === 1 ? [false, true] : [true, false];
  const trees = i % 2 === 1 ? Object.keys(TREES) : Object.keys(TREES).reverse();
  for (const tree of trees) {
    const got = {};
    for (const withPlugin of order) got[withPlugin ? 'with' : 'without'] = run(TREES[tree], `${i}-${tree}-${withPlugin ? 'with' : 'without'}`, withPlugin);
    const pair = {
      pair: i, tree, first: order[0] ? 'with' : 'without',
      withoutPerSec: got.without.rapport.eventsPerSec, withPerSec: got.with.rapport.eventsPerSec,
      ratio: +(got.with.rapport.eventsPerSec / got.without.rapport.eventsPerSec).toFixed(3),
      cpuMicrosPerEvent: { without: got.without.serverCpu.microsecondsPerEvent, with: got.with.serverCpu.microsecondsPerEvent },
      lagAtLastBatch: got.with.pluginLagAtEnd, caughtUpAfterSeconds: got.with.pluginCatchUpSeconds,
      loadAverage: { without: got.without.loadAverage[0], with: got.with.loadAverage[0] },
    };
    pairs[tree].push(pair);
    console.error(JSON.stringify(pair));
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = (list) => ({
  median: {
    ratio: +median(list.map((p) => p.ratio)).toFixed(3),
    cpuMicrosPerEvent: { without: median(list.map((p) => p.cpuMicrosPerEvent.without)), with: median(list.map((p) => p.cpuMicrosPerEvent.with)) },
  },
  range: [Math.min(...list.map((p) => p.ratio)), Math.max(...list.map((p) => p.ratio))],
  pairs: list,
});
const result = {
  bench: 'ingest-plugin-pairs', when: new Date().toISOString(), machine: machine(), plugin: PLUGIN,
  command: `node bench/ingest-plugin-pairs.bench.mjs --plugin ${PLUGIN} --pairs ${PAIRS}${BASELINE ? ' --baseline <dir>' : ''}${EXTRA.includes('--journey') ? ' --journey' : ''}${EVENTS ? ` --events ${EVENTS}` : ''}${STEP_BACK !== null ? ` --step-back-share ${STEP_BACK}` : ''}`,
  current: summary(pairs.current), ...(BASELINE ? { baseline: { dir: TREES.baseline, ...summary(pairs.baseline) } } : {}),
};
fs.rmSync(dir, { recursive: true, force: true });
fs.writeFileSync(`bench/results/ingest-plugin-pairs-${PLUGIN}${EXTRA.includes('--journey') ? '-journey' : ''}${EVENTS ? `-${EVENTS}` : ''}${STEP_BACK !== null ? `-share-${STEP_BACK}` : ''}.json`, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
