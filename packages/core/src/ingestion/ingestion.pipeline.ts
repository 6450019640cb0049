import type { ValidationConfig } from './message-validator';
import { RapportError } from '../errors/rapport-error';
import type { Logger } from '../logger/logger';
import type { IngestionMetrics } from '../metrics/core.metrics';
import type { IngestionService, IngestOutcome } from './ingestion.service';
import { validateMessage } from './message-validator';
import { isDataRefusal, isPerMessageFailure, sqlStateOf } from './storage-error.classifier';
import type { IngestResult, MessageType, NormalizedMessage } from './segment-message.types';
import type { CheckedEvent, EventWarning } from '../plugin/plugin.types';

/** A message that was refused, by its position in the request. */
export interface RejectedMessage {
  index: number;
  code: string;
  field?: string;
  rule?: string;
  message: string;
  status: number;
}

/** The answer to a request carrying one or more messages. */
export interface PipelineResult {
  accepted: Array<IngestResult & { index: number }>;
  rejected: RejectedMessage[];
}

/** A plugin's check of valid messages (`RapportPlugin.checkEvent`), with the plugin's name. */
export interface EventCheck {
  plugin: string;
  check(event: CheckedEvent): readonly EventWarning[] | void;
}

/** Told after a batch is committed (plugin hooks). */
export type AfterIngest = (outcome: IngestOutcome) => Promise<void>;

/** Messages stored so far, what was refused, and the first failure that was not the data's. */
interface Stored {
  outcomes: IngestOutcome[];
  accepted: Array<IngestResult & { index: number }>;
  rejected: RejectedMessage[];
  failure?: unknown;
}

/**
 * Validate, then store, then tell plugins. Every valid message of a request is stored in one
 * transaction; every invalid one is reported by index and writes nothing. Should that transaction
 * fail on an error one message may cause (see {@link isPerMessageFailure}), the messages are stored
 * in halves, recursively, down to the one that fails: the others are stored all the same, a message
 * whose data the database refuses is rejected by index (rule `storable`), and any other failure is
 * thrown once the rest is stored (a 500, which clients retry; messageIds make the retry harmless).
 */
export class IngestionPipeline {
  private metrics: IngestionMetrics | null = null;

  constructor(
    private readonly config: ValidationConfig,
    private readonly service: IngestionService,
    private readonly after: AfterIngest,
    private readonly logger?: Logger,
    private readonly checks: readonly EventCheck[] = [],
  ) {}

  /** Adds the plugins' warnings about a valid message to its own; a check that throws is logged and skipped. */
  private runChecks(message: NormalizedMessage, path: string | undefined): void {
    const event: CheckedEvent = { type: message.type, name: message.name, properties: message.properties };
    for (const c of this.checks) {
      try {
        for (const w of c.check(event) ?? []) message.warnings.push(`${path ? `${path}.` : ''}${w.field}: ${w.message} (${c.plugin}: ${w.rule})`);
      } catch (err) {
        this.logger?.warn({ err, plugin: c.plugin }, 'a plugin\'s checkEvent threw; its warnings were skipped');
      }
    }
  }

  /**
   * Ingests raw messages.
   * @param raws Messages as sent.
   * @param options.impliedType Type implied by the endpoint (single-message endpoints).
   * @param options.path Error path prefix per message: `batch` gives `batch[3].userId`.
   */
  async ingest(
    raws: unknown[],
    options: { impliedType?: MessageType; path?: string; batchSentAt?: unknown; sourceKeyId: string | null; sourceName?: string; sizes?: number[] },
  ): Promise<PipelineResult> {
    const receivedAt = new Date();
    const valid: Array<{ index: number; message: NormalizedMessage }> = [];
    const rejected: RejectedMessage[] = [];
    raws.forEach((raw, index) => {
      try {
        const message = validateMessage(raw, {
          impliedType: options.impliedType, path: options.path !== undefined ? `${options.path}[${index}]` : undefined,
          receivedAt, batchSentAt: options.batchSentAt, config: this.config, bytes: options.sizes?.[index],
        });
        if (this.checks.length) this.runChecks(message, options.path !== undefined ? `${options.path}[${index}]` : undefined);
        valid.push({ index, message });
      } catch (err) {
        if (!(err instanceof RapportError)) throw err;
        rejected.push({ index, code: err.code, field: err.field, rule: err.rule, message: err.message, status: err.status });
      }
    });
    const stored: Stored = { outcomes: [], accepted: [], rejected };
    if (!valid.length) {
      this.count(stored, 0);
      return { accepted: [], rejected };
    }
    try {
      await this.store(valid, { keyId: options.sourceKeyId, name: options.sourceName }, options.path, stored);
    } finally {
      this.count(stored, valid.length);
    }
    const outcome: IngestOutcome =
      stored.outcomes.length === 1
        ? stored.outcomes[0]
        : {
            results: stored.outcomes.flatMap((o) => o.results),
            stored: stored.outcomes.flatMap((o) => o.stored),
            merges: stored.outcomes.flatMap((o) => o.merges),
            consents: stored.outcomes.flatMap((o) => o.consents),
          };
    if (stored.outcomes.length) await this.after(outcome).catch((err: unknown) => this.logger?.error({ err }, 'after-ingest hooks failed'));
    if (stored.failure !== undefined) throw stored.failure;
    rejected.sort((a, b) => a.index - b.index);
    return { accepted: stored.accepted, rejected };
  }

  /** Counts every message's outcome in `metrics` from now on. */
  countWith(metrics: IngestionMetrics): void {
    this.metrics = metrics;
  }

  /** Counts the request's messages by outcome: the valid ones neither accepted nor rejected failed. */
  private count(stored: Stored, valid: number): void {
    const m = this.metrics;
    if (!m) return;
    let dup = 0;
    let suppressed = 0;
    for (const a of stored.accepted) {
      if (a.suppressed) suppressed++;
      else if (a.duplicate) dup++;
    }
    const storedCount = stored.accepted.length - dup - suppressed;
    const storageRejected = stored.rejected.filter((r) => r.rule === 'storable').length;
    const failed = valid - stored.accepted.length - storageRejected;
    if (storedCount) m.messages.inc({ outcome: 'stored' }, storedCount);
    if (dup) m.messages.inc({ outcome: 'duplicate' }, dup);
    if (suppressed) m.messages.inc({ outcome: 'suppressed' }, suppressed);
    if (failed > 0) m.messages.inc({ outcome: 'failed' }, failed);
    if (stored.rejected.length) {
      m.messages.inc({ outcome: 'rejected' }, stored.rejected.length);
      for (const r of stored.rejected) m.rejected(r.rule);
    }
  }

  /** Stores `slice` in one transaction; on a failure one message may cause, each half apart (in order). */
  private async store(
    slice: Array<{ index: number; message: NormalizedMessage }>,
    source: { keyId: string | null; name?: string },
    path: string | undefined,
    into: Stored,
  ): Promise<void> {
    try {
      const outcome = await this.service.ingest(slice.map((v) => v.message), source);
      into.outcomes.push(outcome);
      const results = outcome.results;
      for (let i = 0; i < results.length; i++) {
        const r = results[i];
        const a: IngestResult & { index: number } = { index: slice[i].index, messageId: r.messageId, profileId: r.profileId, duplicate: r.duplicate, warnings: r.warnings };
        if (r.suppressed) a.suppressed = true;
        into.accepted.push(a);
      }
      return;
    } catch (err) {
      if (!isPerMessageFailure(err)) throw err;
      if (slice.length > 1) {
        const half = Math.ceil(slice.length / 2);
        await this.store(slice.slice(0, half), source, path, into);
        await this.store(slice.slice(half), source, path, into);
        return;
      }
      const { index } = slice[0];
      this.logger?.warn({ err, index }, 'a message that passed validation failed to store');
      if (!isDataRefusal(err)) {
        into.failure ??= err;
        return;
      }
      const field = path !== undefined ? `${path}[${index}]` : 'body';
      into.rejected.push({
        index, code: 'VALIDATION_FAILED', field, rule: 'storable', status: 400,
        message: `${field}: the database refused a value of this message (SQLSTATE ${sqlStateOf(err)}); nothing of it was stored`,
      });
    }
  }
}
