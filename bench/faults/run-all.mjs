// Runs the fault suite, one scenario after the other, each in its own process and each bounded:
// pg-outage, kill9, pg-pause, and fuzz-ingest / fuzz-graphql when present. Prints one JSON summary
// line per scenario; exits 1 when any scenario did not hold.
//   npm run build && node bench/faults/run-all.mjs
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIR = path.dirname(fileURLToPath(import.meta.url));
const SCENARIOS = ['pg-outage', 'kill9', 'pg-pause', 'fuzz-ingest', 'fuzz-graphql'];
const BOUND_MS = 300_000;

function runScenario(name) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(DIR, `${name}.mjs`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(kill);
      const last = out.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      let summary;
      try {
        summary = JSON.parse(last);
      } catch {
        summary = { scenario: name, ok: false, error: `no JSON summary (exit ${code ?? signal})`, output: out.slice(-1000) };
      }
      resolve({ scenario: name, ...summary, ok: summary.ok === true && code === 0, seconds: Math.round((Date.now() - t0) / 100) / 10 });
    });
  });
}

let allOk = true;
for (const name of SCENARIOS) {
  if (!fs.existsSync(path.join(DIR, `${name}.mjs`))) {
    process.stdout.write(`${JSON.stringify({ scenario: name, skipped: 'not present' })}\n`);
    continue;
  }
  const s = await runScenario(name);
  allOk &&= s.ok;
  process.stdout.write(`${JSON.stringify(s)}\n`);
}
process.exit(allOk ? 0 : 1);
