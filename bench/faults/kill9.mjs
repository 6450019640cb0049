// Fault (b): `kill -9` of the server mid-stream, then a restart on the same port. A private
// PostgreSQL cluster, `rapport start` against it, @segment/analytics-node sending ~20,000 track
// events with messageIds (it retries what got no answer). Expected: 0 lost, 0 duplicated.
//   npm run build && node bench/faults/kill9.mjs [--events 20000]
import { countStored, createIngestKey, deadline, freePort, numberArg, privatePostgres, report, sendWithSdk, sleep, startRapport } from './fault-kit.mjs';

const EVENTS = numberArg('events', 20_000);
const PER_SECOND = numberArg('rate', 2_000);
let pg;
let server;
const cleanup = async () => {
  server?.proc.kill('SIGKILL');
  await pg?.destroy();
};
deadline(240_000, cleanup);

try {
  pg = await privatePostgres();
  const port = await freePort();
  server = await startRapport({ databaseUrl: pg.url, port });
  const key = await createIngestKey(pg.url);
  const prefix = `kill9-${Date.now()}-`;
  let restartMs = 0;
  const sdk = await sendWithSdk({
    url: server.url, writeKey: key, count: EVENTS, prefix, perSecond: PER_SECOND,
    hooks: [{ atMs: Math.round((EVENTS / PER_SECOND) * 1000 * 0.4), run: async () => {
      server.proc.kill('SIGKILL');
      await server.exited;
      const t0 = Date.now();
      server = await startRapport({ databaseUrl: pg.url, port });
      restartMs = Date.now() - t0;
    } }],
  });
  await sleep(500);
  const stored = await countStored(pg.url, prefix);
  const lost = EVENTS - stored.distinct_ids;
  const duplicated = stored.rows - stored.distinct_ids;
  report({
    scenario: 'kill9', ok: lost === 0 && duplicated === 0,
    events: EVENTS, lost, duplicated, restartMs,
    sdk: { delivered: sdk.delivered, failed: sdk.failed, httpStatuses: sdk.httpStatuses, seconds: sdk.seconds },
  });
} catch (err) {
  await cleanup();
  report({ scenario: 'kill9', ok: false, error: err.stack ?? String(err) });
} finally {
  await cleanup();
  process.exit();
}
