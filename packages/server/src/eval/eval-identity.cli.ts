import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createLogger, matching } from '@rapport/core/internal';
import pino from 'pino';
import { parseArgs } from 'node:util';
import { startServer } from '../server';

const HELP = `npm run eval:identity -- <file.csv> [<file.csv> ...] [options]

Loads person records through the public ingestion path (POST /v1/batch, one anonymous identify
per record), runs identity resolution, and scores the resulting profiles against the ground truth.

  --json                     print one JSON object with the figures as the last line
  --id-column <name>         column with the record id (default rec_id)
  --cluster-column <name>    column with the true cluster id (default: derived from FEBRL rec_id)
  --map <col>=<trait>,...    map more columns to traits (dotted paths), e.g. first=firstName,zip=address.postalCode
  --no-vetoes                let pairs whose first and last names both disagree merge automatically
                             (by default they go to the review queue)
  DATABASE_URL               use this PostgreSQL (default: a fresh embedded one, deleted afterwards)`;

/** Runs the evaluation; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals: files } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      help: { type: 'boolean' }, json: { type: 'boolean' }, 'no-vetoes': { type: 'boolean' },
      'id-column': { type: 'string' }, 'cluster-column': { type: 'string' }, map: { type: 'string', multiple: true },
    },
  });
  const args = { flags: values };
  if (!files.length || args.flags.help) {
    process.stderr.write(HELP + '\n');
    return files.length ? 0 : 2;
  }
  const json = !!args.flags.json;
  const columns: Record<string, string> = {};
  for (const pair of (args.flags.map ?? []).join(',').split(',').filter(Boolean)) {
    const [col, trait] = pair.split('=');
    if (!col || !trait) throw new Error(`--map: "${pair}" is not <column>=<trait>`);
    columns[col] = trait;
  }
  const datasets = files.map((f) =>
    matching.parseFebrlCsv(fs.readFileSync(f, 'utf8'), { idColumn: args.flags['id-column'], clusterColumn: args.flags['cluster-column'], columns }),
  );
  const data = datasets.length === 1 ? datasets[0] : matching.combineDatasets(...datasets);
  const say = (m: string) => !json && process.stderr.write(m + '\n');
  say(`${data.records.length} records, ${matching.countTruePairs(data.clusterOf)} true pairs`);

  const dataDir = path.join(os.tmpdir(), `rapport-eval-${process.pid}`, 'pgdata');
  const server = await startServer({
    database: process.env.DATABASE_URL ? { url: process.env.DATABASE_URL } : { embedded: { dataDir, port: 56000 + (process.pid % 1000) } },
    api: { rateLimitPerMinute: 1e9 },
    // The batch run below resolves everything; matching each record as it arrives would repeat it.
    identity: {
      matching: {
        incremental: false,
        ...(args.flags['no-vetoes'] ? { config: { ...matching.DEFAULT_PERSON_MATCHING_CONFIG, autoMergeVetoes: [] } } : {}),
      },
    },
    logger: createLogger({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2)),
    port: 0,
  });
  try {
    const { key } = await server.core.services.keys.create({ name: 'eval', roles: ['ingest'] });
    const t0 = performance.now();
    const auth = `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    for (let i = 0; i < data.records.length; i += 500) {
      const batch = data.records.slice(i, i + 500).map((r) => ({ type: 'identify', anonymousId: r.id, traits: r.traits }));
      const res = await fetch(`${server.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: JSON.stringify({ batch }) });
      if (res.status !== 200) throw new Error(`ingestion failed: ${res.status} ${await res.text()}`);
    }
    const tIngested = performance.now();
    say(`ingested in ${((tIngested - t0) / 1000).toFixed(1)} s; resolving`);
    const summary = await server.core.services.resolution.resolveAll({ retrain: true });
    const tResolved = performance.now();

    // Only this file's records count (DATABASE_URL may point at a database holding others).
    const rows = await server.core.db.query<{ value: string; profile_id: string }>(
      `SELECT value, profile_id FROM rapport_identity WHERE type = 'anonymous_id' AND value = ANY($1::text[])`,
      [data.records.map((r) => r.id)],
    );
    const byProfile = new Map<string, string[]>();
    for (const r of rows) byProfile.set(r.profile_id, [...(byProfile.get(r.profile_id) ?? []), r.value]);
    const m = matching.pairwiseMetrics([...byProfile.values()], data.clusterOf);
    const result = {
      files: files.map((f) => path.basename(f)),
      records: data.records.length,
      truePairs: m.truePairs,
      candidatePairs: summary.candidatePairs,
      predictedPairs: m.predictedPairs,
      precision: +m.precision.toFixed(4),
      recall: +m.recall.toFixed(4),
      f1: +m.f1.toFixed(4),
      merged: summary.merged,
      queuedForReview: summary.queued,
      thresholds: server.core.config.identity.matching.config.thresholds,
      autoMergeVetoes: server.core.config.identity.matching.config.autoMergeVetoes ?? [],
      seconds: { ingest: +((tIngested - t0) / 1000).toFixed(2), resolve: +((tResolved - tIngested) / 1000).toFixed(2), total: +((tResolved - t0) / 1000).toFixed(2) },
    };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      process.stdout.write(
        [
          `files            ${result.files.join(' + ')}`,
          `records          ${result.records}`,
          `candidate pairs  ${result.candidatePairs}`,
          `precision        ${result.precision}`,
          `recall           ${result.recall}`,
          `F1               ${result.f1}`,
          `merged / review  ${result.merged} / ${result.queuedForReview}`,
          `seconds          ${result.seconds.total} (ingest ${result.seconds.ingest}, resolve ${result.seconds.resolve})`,
        ].join('\n') + '\n',
      );
    }
    return 0;
  } finally {
    await server.close();
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }
}

if (require.main === module) {
  require('reflect-metadata');
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`eval:identity: ${err.message}\n`);
      process.exit(1);
    },
  );
}
