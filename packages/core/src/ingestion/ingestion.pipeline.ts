import type { RapportConfig } from '../config/rapport-config';
import { RapportError } from '../errors/rapport-error';
import type { Logger } from '../logger/logger';
import type { IngestionService, IngestOutcome } from './ingestion.service';
import { validateMessage } from './message-validator';
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

/**
 * Validate, then store, then tell plugins. Every valid message of a request is stored in one
 * transaction; every invalid one is reported by index and writes nothing.
 */
export class IngestionPipeline {
  constructor(
    private readonly config: RapportConfig,
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
    const outcome = await this.service.ingest(valid.map((v) => v.message), { keyId: options.sourceKeyId, name: options.sourceName });
    await this.after(outcome).catch((err: unknown) => this.logger?.error({ err }, 'after-ingest hooks failed'));
    return { accepted: outcome.results.map((r, i) => ({ ...r, index: valid[i].index })), rejected };
  }
}
