import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Database, Logger } from '@rapport/core';
import { CatalogCache } from './catalog-cache';
import { ModelHolder } from './model-store';
import type { ResolvedOptions } from './options';
import type { TrainSummary } from './train';

/** Per-process serving state: the catalog snapshot, the loaded model, the timers. */
export class Runtime {
  readonly catalog: CatalogCache;
  readonly model: ModelHolder;
  private started: Promise<void> | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private trainTimer: NodeJS.Timeout | null = null;
  private training: Worker | null = null;
  private stopped = false;

  constructor(readonly db: Database, readonly logger: Logger, readonly opts: ResolvedOptions) {
    this.catalog = new CatalogCache(db, logger, opts.refreshMs, opts.trendingDays);
    this.model = new ModelHolder(db, logger, opts.keepVersions);
  }

  /** Loads the newest model and starts polling for newer ones; once, on the first request. */
  start(): Promise<void> {
    this.started ??= (async () => {
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
    const worker = new Worker(script, { workerData: { url, ease: this.opts.ease, keep: this.opts.keepVersions } });
    this.training = worker;
    return new Promise((resolve) => {
      let summary: TrainSummary | null = null;
      worker.on('message', (m: { progress?: string; done?: TrainSummary; error?: string }) => {
        if (m.progress) this.logger.debug({ progress: m.progress }, 'scheduled training');
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
