import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ReadCoalescer, type Logger, type PluginContext } from '@rapport/core';
import { CatalogCache } from './catalog-cache';
import { TOPICS } from './channels';
import { HistoryCache } from './history-cache';
import { ModelHolder } from './model-store';
import { modelStatus, type ModelStatus } from './model-status';
import type { ResolvedOptions } from './options';
import { interactionsOf, itemsByIds, type InteractionRow, type ItemRow } from './store';
import { trainingReadiness, trainRecommendations, type FitResult, type TrainingReadiness, type TrainInput, type TrainSummary } from './train';

/** How long local interaction changes are gathered before one notification tells the other servers. */
const HISTORY_NOTIFY_MS = 20;

/**
 * Splits ids into payloads under PostgreSQL's NOTIFY limit. A chunk's size is bounded by the sum of
 * its ids encoded alone plus a separator each (true of a comma-joined list and of a JSON array), so
 * each id is encoded once, not the growing chunk after every id.
 */
export function chunkPayloads(ids: Iterable<string>, encode: (ids: string[]) => string, maxBytes: number): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(encode([id])) + 1;
    if (cur.length && bytes + size > maxBytes) {
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
  private historyTimer: NodeJS.Timeout | null = null;
  private unlisten: Array<() => void> = [];
  private started: Promise<void> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private training: Worker | null = null;
  private trainingRun: Promise<TrainSummary | null> | null = null;
  readonly logger: Logger;
  private stopped = false;
  private readonly historyReads = new ReadCoalescer<InteractionRow[]>(
    async (ids) => {
      const rows = await interactionsOf(this.ctx.db, ids);
      return new Map(ids.map((id, k) => [id, rows[k]]));
    },
    (rows) => rows,
  );

  constructor(readonly ctx: PluginContext, readonly opts: ResolvedOptions) {
    this.logger = ctx.logger;
    this.catalog = new CatalogCache(ctx.db, ctx.consent, ctx.logger, opts.refreshMs, opts.trendingDays, () => ctx.notify.listening, opts.requireFields);
    this.model = new ModelHolder(ctx.db, ctx.logger, opts.keepVersions);
    this.histories = new HistoryCache(opts.historyCache, () => ctx.notify.listening);
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
    // This process's own message does not come back to it (it dropped the profiles already).
    const payloads = chunkPayloads(this.pendingHistory, (c) => c.join(','), this.ctx.notify.maxPayload);
    this.pendingHistory.clear();
    for (const p of payloads) await this.notify(TOPICS.history, p);
  }

  /**
   * Sends a notification; when that fails, retries in the background (1 s, 2 s, ... 5 tries):
   * a lost notification would leave other servers' caches stale until their next reload.
   */
  private async notify(channel: string, payload: string, attempt = 0): Promise<void> {
    try {
      await this.ctx.notify.publish(channel, payload);
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
    for (const p of chunkPayloads(rows.map((r) => r.id), (c) => JSON.stringify(c), this.ctx.notify.maxPayload)) await this.notify(TOPICS.items, p);
  }

  private async listen(): Promise<void> {
    const n = this.ctx.notify;
    const reset = () => {
      this.histories.clear();
      this.catalog.markDirty();
      void this.model.poll().catch(() => undefined);
    };
    this.unlisten = await Promise.all([
      n.subscribe(TOPICS.model, () => void this.model.poll().catch((err: unknown) => this.logger.warn({ err }, 'loading the new recommendation model failed')), reset),
      n.subscribe(TOPICS.history, (payload) => this.histories.invalidate(payload.split(','))),
      n.subscribe(TOPICS.items, (payload) => {
        const ids = JSON.parse(payload) as string[];
        itemsByIds(this.ctx.db, ids)
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

  /**
   * One training run: reads and stores through the plugin's context here, fits in a worker thread
   * (so requests are never blocked). Resolves with its summary; null when this process is already
   * training, is stopping, or the compiled worker is missing (then it logs why).
   */
  async train(): Promise<TrainSummary | null> {
    if (this.trainingRun) return null; // one run at a time in this process (the schedule and the first-model check may meet)
    this.trainingRun = this.trainOnce().finally(() => (this.trainingRun = null));
    return this.trainingRun;
  }

  private async trainOnce(): Promise<TrainSummary | null> {
    const script = workerScript();
    if (!script) {
      this.logger.warn('the compiled train worker (dist/plugin/train.worker.js) is missing: run `npm run build`; scheduled training is off');
      return null;
    }
    if (this.training || this.stopped) return null;
    const summary = await trainRecommendations(this.ctx, { ease: this.opts.ease, keep: this.opts.keepVersions, requireFields: this.opts.requireFields }, (m) => this.logger.debug({ progress: m }, 'scheduled training'), (input) =>
      this.fitInWorker(script, input),
    );
    this.logger.info({ summary }, 'scheduled recommendation training done');
    if (summary.id) await this.model.poll().catch(() => undefined);
    return summary;
  }

  /** What the first training waits for, counted now (one statement). */
  readiness(): Promise<TrainingReadiness> {
    return trainingReadiness(this.ctx, {
      minItemUsers: this.opts.ease.minItemUsers ?? 5,
      requireFields: this.opts.requireFields,
      threshold: this.opts.firstTraining,
    });
  }

  /** What this server serves and when the next training runs (`recommendationModel`, and the `health` query). */
  async status(): Promise<ModelStatus> {
    await this.start();
    return modelStatus(this);
  }

  /** True when a version is stored (by any server or `rapport train`), loadable or not. */
  async hasStoredModel(): Promise<boolean> {
    return (await this.ctx.db.query("SELECT 1 FROM rec_model WHERE name = 'ease' LIMIT 1")).length > 0;
  }

  /**
   * A scheduled run. Before any version is stored it trains only once the data reaches the
   * first-training threshold (`firstTraining`), so a new shop does not get a model of ten clicks;
   * after that, every scheduled period trains. `firstOnly`: the frequent check, which does nothing
   * once a version exists. Returns the summary, or null when it did not train.
   */
  async scheduledTraining(firstOnly: boolean): Promise<TrainSummary | null> {
    if (this.stopped) return null;
    if (!(await this.hasStoredModel())) {
      const r = await this.readiness();
      if (!r.ready) {
        this.logger.debug({ readiness: r, threshold: this.opts.firstTraining }, 'first recommendation model: not enough data yet');
        return null;
      }
      this.logger.info({ readiness: r, threshold: this.opts.firstTraining }, 'enough data for the first recommendation model: training it now');
    } else if (firstOnly) return null;
    return this.train();
  }

  private fitInWorker(script: string, input: TrainInput): Promise<FitResult> {
    const worker = new Worker(script, { workerData: input });
    this.training = worker;
    return new Promise((resolve, reject) => {
      let result: FitResult | null = null;
      let error: string | null = null;
      worker.on('message', (m: { progress?: string; done?: FitResult; error?: string }) => {
        if (m.progress) this.logger.debug({ progress: m.progress }, 'scheduled training');
        if (m.done) result = m.done;
        if (m.error) error = m.error;
      });
      worker.on('error', (err) => (error ??= err.message));
      worker.on('exit', (code) => {
        this.training = null;
        if (result) resolve(result);
        else reject(new Error(`fitting failed: ${error ?? (this.stopped ? 'the server is stopping' : `the worker exited with code ${code}`)}`));
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unlisten) u();
    await this.flushHistory();
    if (this.pollTimer) clearInterval(this.pollTimer);
    await this.training?.terminate();
  }
}

/** The compiled worker next to this file, or (running from src under vitest) in the package's dist. */
function workerScript(): string | null {
  const candidates = [path.join(__dirname, 'train.worker.js'), path.resolve(__dirname, '../../dist/plugin/train.worker.js')];
  return candidates.find((f) => fs.existsSync(f)) ?? null;
}
