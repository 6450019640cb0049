// Deterministic stitching at scale: 100,000 new people through /v1/batch, each an identify with a
// userId, an anonymousId and an email (three identities, one new profile each), compared with the
// foundation ingestion figure (bench/results/ingest.json).
// Usage: npm run build && node bench/stitching.bench.mjs
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const foundation = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench/results/ingest.json'), 'utf8'));
const before = fs.readFileSync(path.join(ROOT, 'bench/results/ingest.json'), 'utf8');
execFileSync('node', [path.join(ROOT, 'bench/ingest.bench.mjs'), '--events', '100000', '--users', '100000'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
const run = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench/results/ingest.json'), 'utf8'));
fs.writeFileSync(path.join(ROOT, 'bench/results/ingest.json'), before); // keep the foundation figure in place
const result = {
  bench: 'stitching', date: new Date().toISOString(), machine: run.machine, database: run.database,
  profiles: run.profiles, events: run.events, eventsPerSec: run.rapport.eventsPerSec,
  foundationEventsPerSec: foundation.rapport.eventsPerSec, slowdown: +(foundation.rapport.eventsPerSec / run.rapport.eventsPerSec).toFixed(2),
};
fs.writeFileSync(path.join(ROOT, 'bench/results/stitching.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result, null, 2));
