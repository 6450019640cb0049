// The Node CPU of the audit's batched write (ReadAuditWriter, the call of rapport_audit_reads a guarded read of personal
// data waits for): calls of one entry, and of 14 entries (as many requests as share a commit in the guard's bench at
// 400 requests/s), against a migrated database, one call at a time. Beside it, a bare `SELECT 1` through the same pool,
// prepared and not: what one round trip costs this machine's Node process (on a virtual machine, waking the database's
// backend with a socket write is most of it).
// Usage: npm run build && node bench/audit-writer.bench.mjs [--calls 3000]   (DATABASE_URL, else an embedded PostgreSQL)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { machine } from './lib/machine.mjs';
import { numberArg as arg } from './lib/args.mjs';

const require = createRequire(import.meta.url);
require('reflect-metadata');
const { Database, ReadAuditWriter, startEmbeddedPostgres } = require('../packages/core/dist/internal');

const CALLS = arg('calls', 3000);
const dataDir = path.join(os.tmpdir(), `rapport-audit-bench-${process.pid}`);
const cluster = process.env.DATABASE_URL ? null : await startEmbeddedPostgres({ dataDir, port: 55410, database: 'audit_bench', ephemeral: true });
const db = new Database({ url: process.env.DATABASE_URL ?? cluster.url, poolSize: 10 });
const results = {};
try {
  await db.connect(); // migrates
  const writer = new ReadAuditWriter(db);
  const key = randomUUID();
  const profiles = Array.from({ length: 1000 }, () => randomUUID());
  const entry = (i) => ({ keyId: key, actor: 'bench-reader', profileId: profiles[i % profiles.length], fields: ['Profile.traits.email'], purpose: 'personalization', requestId: randomUUID() });
  /** Node CPU and wall time per unit of `calls` sequential runs of `once` (after a warm-up). */
  const measure = async (calls, once) => {
    for (let i = 0; i < 300; i++) await once(i);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) await once(i);
    const cpu = process.cpuUsage(cpu0);
    return { cpuMicrosecondsPerCall: +((cpu.user + cpu.system) / calls).toFixed(1), wallMicrosecondsPerCall: +(((performance.now() - t0) * 1000) / calls).toFixed(1) };
  };
  for (const per of [1, 14]) {
    const r = await measure(Math.ceil(CALLS / per), (i) => Promise.all(Array.from({ length: per }, (_, k) => writer.record([entry(i * per + k)]))));
    results[`audit, ${per} per call`] = { ...r, cpuMicrosecondsPerEntry: +(r.cpuMicrosecondsPerCall / per).toFixed(1) };
  }
  results['SELECT 1'] = await measure(CALLS, () => db.query('SELECT 1'));
  results['SELECT 1, prepared'] = await measure(CALLS, () => db.query('SELECT 1', [], { prepare: true }));
} finally {
  await db.close(500);
  await cluster?.stop();
}
const out = { bench: 'audit-writer', date: new Date().toISOString(), machine: machine(), database: process.env.DATABASE_URL ? 'external' : 'embedded', calls: CALLS, results };
fs.mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
fs.writeFileSync(new URL('./results/audit-writer.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(JSON.stringify(out));
