// Fault (c): PostgreSQL paused (SIGSTOP of the postmaster and every backend, as `docker pause`)
// for ~10 s under steady requests, then resumed. A private cluster and `rapport start` with its
// default timeouts. Expected: requests fail fast with 503 and Retry-After (never hang for the whole
// pause, never another 5xx), and serve again after SIGCONT.
//   npm run build && node bench/faults/pg-pause.mjs [--pause-ms 10000] [--clients 8]
import { createIngestKey, deadline, freePort, numberArg, privatePostgres, report, sleep, startRapport } from './fault-kit.mjs';

const PAUSE_MS = numberArg('pause-ms', 10_000);
const CLIENTS = numberArg('clients', 8);
let pg;
let server;
const cleanup = async () => {
  pg?.resume();
  server?.proc.kill('SIGKILL');
  await pg?.destroy();
};
deadline(180_000, cleanup);

const pct = (xs, p) => (xs.length ? xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : null);

try {
  pg = await privatePostgres();
  server = await startRapport({ databaseUrl: pg.url, port: await freePort() });
  let died = null;
  void server.exited.then((e) => (died = e));
  const key = await createIngestKey(pg.url);
  const samples = []; // { startedMs, ms, status, retryAfter }
  let stop = false;
  let n = 0;
  const t0 = Date.now();
  const client = async (c) => {
    while (!stop) {
      const started = Date.now();
      const path = (n++ % 4 === 0) ? '/health' : '/v1/track';
      let status = -1;
      let retryAfter = null;
      try {
        const r = await fetch(`${server.url}${path}`, {
          method: path === '/health' ? 'GET' : 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: path === '/health' ? undefined : JSON.stringify({ userId: `pause-${c}`, event: 'Pause Probe', messageId: `pause-${c}-${n}` }),
          signal: AbortSignal.timeout(60_000),
        });
        status = r.status;
        retryAfter = r.headers.get('retry-after');
        await r.arrayBuffer();
      } catch {
        status = -1;
      }
      samples.push({ startedMs: started - t0, ms: Date.now() - started, status, retryAfter, path });
      if (status !== 200) await sleep(50);
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
  await sleep(3_000);
  const pausedAt = Date.now() - t0;
  pg.pause();
  await sleep(PAUSE_MS);
  pg.resume();
  const resumedAt = Date.now() - t0;
  await sleep(8_000);
  stop = true;
  await Promise.all(clients);

  const during = samples.filter((s) => s.startedMs >= pausedAt && s.startedMs < resumedAt);
  const after = samples.filter((s) => s.startedMs >= resumedAt);
  const firstOk = after.find((s) => s.status === 200);
  const byStatus = (xs) => xs.reduce((m, s) => ((m[s.status] = (m[s.status] ?? 0) + 1), m), {});
  const unexpected = during.filter((s) => s.status !== 503 && s.status !== 200);
  const no503Header = during.filter((s) => s.status === 503 && !s.retryAfter);
  // Requests begun once the server knew (the first 503 answered): they must not wait for a timeout.
  const first503 = during.filter((s) => s.status === 503).map((s) => s.startedMs + s.ms).sort((a, b) => a - b)[0] ?? Infinity;
  const afterKnown = during.filter((s) => s.startedMs >= first503);
  const recoveredAfterMs = firstOk ? firstOk.startedMs + firstOk.ms - resumedAt : null;
  const lastMinute = after.filter((s) => s.startedMs >= resumedAt + 5_000);
  const ok = died === null && unexpected.length === 0 && no503Header.length === 0 && during.length > 0
    && Math.max(...during.map((s) => s.ms)) < PAUSE_MS && recoveredAfterMs !== null && lastMinute.every((s) => s.status === 200);
  report({
    scenario: 'pg-pause', ok, pauseMs: PAUSE_MS, clients: CLIENTS,
    duringPause: {
      requests: during.length, byStatus: byStatus(during), maxLatencyMs: Math.max(0, ...during.map((s) => s.ms)),
      p50LatencyMs: pct(during.map((s) => s.ms), 50), p99LatencyMs: pct(during.map((s) => s.ms), 99),
      onceKnownDown: { requests: afterKnown.length, maxLatencyMs: Math.max(0, ...afterKnown.map((s) => s.ms)), p50LatencyMs: pct(afterKnown.map((s) => s.ms), 50) },
      missingRetryAfter: no503Header.length,
    },
    afterResume: { requests: after.length, byStatus: byStatus(after), recoveredAfterMs },
    serverUp: died === null,
  });
} catch (err) {
  await cleanup();
  report({ scenario: 'pg-pause', ok: false, error: err.stack ?? String(err) });
} finally {
  await cleanup();
  process.exit();
}
