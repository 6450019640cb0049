import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MAX_NOTIFY_PAYLOAD, ReadCoalescer, type Database, type Logger } from '@rapport/core';
import { CatalogCache } from './catalog-cache';
import { CHANNELS } from './channels';
import { HistoryCache } from './history-cache';
import { ModelHolder } from './model-store';
import type { ResolvedOptions } from './options';
import { interactionsOf, itemsByIds, type InteractionRow, type ItemRow } from './store';
import type { TrainSummary } from './train';

/** How long local interaction changes are gathered before one notification tells the other servers. */
const HISTORY_NOTIFY_MS = 20;

/**
 * Splits ids into payloads under PostgreSQL's NOTIFY limit. A chunk's size is bounded by the sum of
 * its ids encoded alone plus a separator each (true of a comma-joined list and of a JSON array), so
 * each id is encoded once, not the growing chunk after every id.
 */
export function chunkPayloads(ids: Iterable<string>, encode: (ids: string[]) => string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(encode([id])) + 1;
    if (cur.length && bytes + size > MAX_NOTIFY_PAYLOAD) {
      out.push(encode(cur));
      cur = [];
      bytes = 0;
    }
    cur.push(id);
    bytes += size;
  }
  if (cur.length) out.push(encode(cur));
  return out;
}

/**
 * Per-process serving state: the catalog snapshot, the loaded model, the cached interaction
 * histories, the timers, and the notifications that keep them in step with the other server
 * processes (a new model is picked up at once; changed items and histories are dropped).
 */
export class Runtime {
  readonly catalog: CatalogCache;
  readonly model: ModelHolder;
  readonly histories: HistoryCache;
  private readonly pendingHistory = new Set<string>();
  /**
   * Prefix (`<sender>:`) of the history notifications this process sends. This process dropped
   * those profiles when it wrote them, so it ignores its own echo, which would otherwise drop them
   * again whenever it arrives (later under load) and evict reads cached since. Erasure's
   * notifications, sent inside the delete transaction, carry no prefix: every process, this one
   * included, drops the profiles when the deletion commits.
   */
  private readonly sender = randomBytes(6).toString('hex');
  private historyTimer: NodeJS.Timeout | null = null;
  private unlisten: Array<() => void> = [];
  private started: Promise<void> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private trainTimer: NodeJS.Timeout | null = null;
  private training: Worker | null = null;
  private stopped = false;
  private readonly historyReads = new ReadCoalescer<InteractionRow[]>(
    async (ids) => {
      const rows = await interactionsOf(this.db, ids);
      return new Map(ids.map((id, k) => [id, rows[k]]));
    },
    (rows) => rows,
  );

  constructor(readonly db: Database, readonly logger: Logger, readonly opts: ResolvedOptions) {
    this.catalog = new CatalogCache(db, logger, opts.refreshMs, opts.trendingDays, () => this.db.notifications.listening);
    this.model = new ModelHolder(db, logger, opts.keepVersions);
    this.histories = new HistoryCache(opts.historyCache, () => this.db.notifications.listening);
  }

  /**
   * Current interactions of these profiles (cached; see {@link HistoryCache}). Misses of concurrent
   * requests share one statement; rows are never changed once read, so callers share them too.
   */
  historiesOf(ids: readonly string[]): Promise<InteractionRow[][]> {
    return this.histories.get(ids, async (missing) => {
      const found = await this.historyReads.get(missing);
      return missing.map((id) => found.get(id) ?? []);
    });
  }

  /**
   * This process changed these profiles' interactions: drop them here now, and tell the other
   * processes (gathered for a few ms into one notification).
   */
  historyChanged(ids: Iterable<string>): void {
    const list = [...ids];
    this.histories.invalidate(list);
    // Even with caching off here: other servers may cache.
    for (const id of list) this.pendingHistory.add(id);
    this.historyTimer ??= setTimeout(() => void this.flushHistory(), HISTORY_NOTIFY_MS);
  }

  private async flushHistory(): Promise<void> {
    if (this.historyTimer) clearTimeout(this.historyTimer);
    this.historyTimer = null;
    const payloads = chunkPayloads(this.pendingHistory, (c) => `${this.sender}:${c.join(',')}`);
    this.pendingHistory.clear();
    for (const p of payloads) await this.notify(CHANNELS.history, p);
  }

  /**
   * Sends a notification; when that fails, retries in the background (1 s, 2 s, ... 5 tries):
   * a lost notification would leave other servers' caches stale until their next reload.
   */
  private async notify(channel: string, payload: string, attempt = 0): Promise<void> {
    try {
      await this.db.notifications.notify(channel, payload);
    } catch (err) {
      if (attempt >= 5 || this.stopped) {
        this.logger.error({ err, channel }, 'could not notify other servers; their caches may stay stale until they reload');
        return;
      }
      this.logger.warn({ err, channel, attempt }, 'notifying other servers failed; retrying');
      setTimeout(() => void this.notify(channel, payload, attempt + 1), 1000 * 2 ** attempt).unref();
    }
  }

  /** Catalog rows were written here: apply them to this snapshot now and tell the other processes. */
  async itemsChanged(rows: ItemRow[]): Promise<void> {
    this.catalog.applyRows(rows);
    for (const p of chunkPayloads(rows.map((r) => r.id), (c) => JSON.stringify(c))) await this.notify(CHANNELS.items, p);
  }

  private async listen(): Promise<void> {
    const n = this.db.notifications;
    const reset = () => {
      this.histories.clear();
      this.catalog.markDirty();
      void this.model.poll().catch(() => undefined);
    };
    this.unlisten = await Promise.all([
      n.listen(CHANNELS.model, () => void this.model.poll().catch((err: unknown) => this.logger.warn({ err }, 'loading the new recommendation model failed')), reset),
      n.listen(CHANNELS.history, (payload) => {
        const sep = payload.indexOf(':');
        if (sep >= 0 && payload.slice(0, sep) === this.sender) return;
        this.histories.invalidate(payload.slice(sep + 1).split(','));
      }),
      n.listen(CHANNELS.items, (payload) => {
        const ids = JSON.parse(payload) as string[];
        itemsByIds(this.db, ids)
          .then((rows) => this.catalog.applyRows(rows.filter((r): r is ItemRow => r !== null)))
          .catch((err: unknown) => {
            this.logger.warn({ err }, 'reading changed catalog items failed; reloading the catalog');
            this.catalog.markDirty();
          });
      }),
    ]);
  }

  /** Loads the newest model and starts polling for newer ones; once, on the first request. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.listen().catch((err: unknown) => this.logger.warn({ err }, 'listening for recommendation changes failed; polling only'));
      await this.model.poll().catch((err: unknown) => this.logger.warn({ err }, 'reading recommendation models failed; serving popularity'));
      if (this.opts.pollMs > 0 && !this.stopped) {
        this.pollTimer = setInterval(() => {
          this.model.poll().catch((err: unknown) => this.logger.warn({ err }, 'polling recommendation models failed'));
        }, this.opts.pollMs);
        this.pollTimer.unref();
      }
    })();
    return this.started;
  }

  /** Starts scheduled training (`trainEvery`), each run in a worker thread. */
  schedule(): void {
    if (!this.opts.trainEvery || this.trainTimer) return;
    const script = workerScript();
    if (!script) {
      this.logger.warn('trainEvery is set but the compiled train worker (dist/plugin/train.worker.js) is missing: run `npm run build`; scheduled training is off');
      return;
    }
    this.trainTimer = setInterval(() => void this.trainInWorker(script), this.opts.trainEvery);
    this.trainTimer.unref();
  }

  /** One training run in a worker thread; resolves with its summary (null when one was already running or it failed). */
  trainInWorker(script = workerScript()): Promise<TrainSummary | null> {
    if (this.training || !script || this.stopped) return Promise.resolve(null);
    const url = (this.db.dataSource.options as { url?: string }).url;
    if (!url) return Promise.resolve(null);
    const worker = new Worker(script, { workerData: { url, ease: this.opts.ease, keep: this.opts.keepVersions, every: this.opts.trainEvery ?? 0 } });
    this.training = worker;
    return new Promise((resolve) => {
      let summary: TrainSummary | null = null;
      worker.on('message', (m: { progress?: string; done?: TrainSummary; error?: string; skipped?: string }) => {
        if (m.progress) this.logger.debug({ progress: m.progress }, 'scheduled training');
        if (m.skipped) this.logger.debug({ reason: m.skipped }, 'scheduled training skipped');
        if (m.done) summary = m.done;
        if (m.error) this.logger.warn({ error: m.error }, 'scheduled recommendation training failed');
      });
      worker.on('error', (err) => this.logger.warn({ err }, 'scheduled recommendation training failed'));
      worker.on('exit', () => {
        this.training = null;
        if (summary) {
          this.logger.info({ summary }, 'scheduled recommendation training done');
          void this.model.poll().catch(() => undefined);
        }
        resolve(summary);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unlisten) u();
    await this.flushHistory();
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.trainTimer) clearInterval(this.trainTimer);
    await this.training?.terminate();
  }
}

/** The compiled worker next to this file, or (running from src under vitest) in the package's dist. */
function workerScript(): string | null {
  const candidates = [path.join(__dirname, 'train.worker.js'), path.resolve(__dirname, '../../dist/plugin/train.worker.js')];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}
