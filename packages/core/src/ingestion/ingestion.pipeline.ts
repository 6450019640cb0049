import type { ValidationConfig } from './message-validator';
import { RapportError } from '../errors/rapport-error';
import type { Logger } from '../logger/logger';
import type { IngestionService, IngestOutcome } from './ingestion.service';
import { validateMessage } from './message-validator';
import { isDataRefusal, isPerMessageFailure, sqlStateOf } from './storage-error.classifier';
import type { IngestResult, MessageType, NormalizedMessage } from './segment-message.types';

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
  constructor(
    private readonly config: ValidationConfig,
    private readonly service: IngestionService,
    private readonly after: AfterIngest,
    private readonly logger?: Logger,
  ) {}

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
        valid.push({ index, message });
      } catch (err) {
        if (!(err instanceof RapportError)) throw err;
        rejected.push({ index, code: err.code, field: err.field, rule: err.rule, message: err.message, status: err.status });
      }
    });
    if (!valid.length) return { accepted: [], rejected };
    const stored: Stored = { outcomes: [], accepted: [], rejected };
    await this.store(valid, { keyId: options.sourceKeyId, name: options.sourceName }, options.path, stored);
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
      outcome.results.forEach((r, i) => into.accepted.push({ ...r, index: slice[i].index }));
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
