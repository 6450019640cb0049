// Fault (a): PostgreSQL stopped for 5 s under Segment SDK load against a single-process server.
// A private PostgreSQL cluster (started here, on a free loopback port), `rapport start` against it,
// @segment/analytics-node sending ~20,000 track events with messageIds; mid-stream the cluster is
// stopped (fast shutdown: sessions terminated), then started 5 s later. Expected: 0 lost,
// 0 duplicated, the server answering throughout (503 with Retry-After while the database is gone).
//   npm run build && node bench/faults/pg-outage.mjs [--events 20000] [--down-ms 5000]
import { countStored, createIngestKey, deadline, freePort, numberArg, privatePostgres, report, sendWithSdk, sleep, startRapport, watchHealth } from './fault-kit.mjs';

const EVENTS = numberArg('events', 20_000);
const DOWN_MS = numberArg('down-ms', 5_000);
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
  server = await startRapport({ databaseUrl: pg.url, port: await freePort() });
  let died = null;
  void server.exited.then((e) => (died = e));
  const key = await createIngestKey(pg.url);
  const health = watchHealth(server.url);
  const prefix = `outage-${Date.now()}-`;
  const startMs = Math.round((EVENTS / PER_SECOND) * 1000 * 0.3);
  const sdk = await sendWithSdk({
    url: server.url, writeKey: key, count: EVENTS, prefix, perSecond: PER_SECOND,
    hooks: [{ atMs: startMs, run: async () => {
      await pg.stop();
      await sleep(DOWN_MS);
      await pg.start();
    } }],
  });
  await sleep(500);
  const seen = await health.stop();
  const stored = await countStored(pg.url, prefix);
  const lost = EVENTS - stored.distinct_ids;
  const duplicated = stored.rows - stored.distinct_ids;
  const serverUp = died === null && seen.noAnswer === 0;
  report({
    scenario: 'pg-outage', ok: lost === 0 && duplicated === 0 && serverUp,
    events: EVENTS, databaseDownMs: DOWN_MS, lost, duplicated, serverUp,
    sdk: { delivered: sdk.delivered, failed: sdk.failed, httpStatuses: sdk.httpStatuses, seconds: sdk.seconds },
    health: seen,
    ...(died ? { serverExit: died, serverLog: server.log().slice(-1500) } : {}),
  });
} catch (err) {
  await cleanup();
  report({ scenario: 'pg-outage', ok: false, error: err.stack ?? String(err) });
} finally {
  await cleanup();
  process.exit();
}
