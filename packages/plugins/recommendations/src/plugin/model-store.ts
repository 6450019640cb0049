import { gunzipSync, gzipSync } from 'node:zlib';
import type { Logger, SqlRunner as Queryable } from '@rapport/core';
import { EaseModel, type EaseJSON, type PopularityJSON } from '../models';

/** The `rec_model.name` of the served model. */
export const MODEL_NAME = 'ease';

/**
 * What one stored version holds (gzip-compressed JSON in `rec_model.payload`). Format 2 is what
 * training writes since EASE weights may be int8 (servers that read only format 1 refuse it with a
 * clear error and keep serving their model); format 1 (float32 weights) still loads.
 */
export interface ModelPayload {
  format: 1 | 2;
  ease: EaseJSON;
  popularity: PopularityJSON;
  /** Item ids with learned item-item weights (enough users at training time). */
  learned: string[];
}

export function encodePayload(p: ModelPayload): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(p)), { level: 1 });
}

/** Decodes and checks a payload; throws with a readable message when it is not one. */
export function decodePayload(buf: Buffer): ModelPayload {
  const p = JSON.parse(gunzipSync(buf).toString('utf8')) as ModelPayload;
  if (!p || (p.format !== 1 && p.format !== 2) || !p.ease || p.ease.type !== 'ease' || !Array.isArray(p.ease.itemIds) || !Array.isArray(p.learned)) {
    throw new Error('payload is not a recommendations model (format 1 or 2 with an ease model)');
  }
  return p;
}

/** A loaded model version. */
export interface LoadedModel {
  id: string;
  version: number;
  createdAt: Date;
  ease: EaseModel;
  /** Model item index by item id. */
  index: Map<string, number>;
  itemIds: readonly string[];
  /** Model indices of items with learned neighbours. */
  learned: Set<number>;
}

/**
 * Holds the model this process serves and picks up newer versions: `poll()` reads the newest
 * version id (one indexed row) and loads it when it changed. A version that fails to load is
 * logged once, remembered, and the previous model (or none: popularity) keeps serving.
 */
export class ModelHolder {
  current: LoadedModel | null = null;
  lastError: string | null = null;
  private readonly failed = new Set<string>();
  private polling: Promise<void> | null = null;
  private again: Promise<void> | null = null;

  constructor(private readonly db: Queryable, private readonly logger: Logger, private readonly keep: number) {}

  /** Checks for a newer version. A call during a running check runs one more after it (its news may be newer). */
  poll(): Promise<void> {
    if (this.polling) {
      this.again ??= this.polling.catch(() => undefined).then(() => {
        this.again = null;
        return this.poll();
      });
      return this.again;
    }
    this.polling = this.doPoll().finally(() => (this.polling = null));
    return this.polling;
  }

  private async doPoll(): Promise<void> {
    const rows = await this.db.query<{ id: string }>(
      'SELECT id FROM rec_model WHERE name = $1 AND id > $2 ORDER BY id DESC LIMIT $3',
      [MODEL_NAME, this.current?.id ?? '0', this.keep],
    );
    for (const { id } of rows) {
      if (this.failed.has(id)) continue;
      try {
        this.current = await this.load(id);
        this.lastError = null;
        this.logger.info({ modelId: id, version: this.current.version, items: this.current.itemIds.length }, 'recommendation model loaded');
        return;
      } catch (err) {
        this.failed.add(id);
        this.lastError = `model id ${id}: ${(err as Error).message}`;
        this.logger.warn(
          { err, modelId: id },
          `could not load recommendation model id ${id}; ${this.current ? `keeping version ${this.current.version}` : 'serving popularity'}`,
        );
      }
    }
  }

  private async load(id: string): Promise<LoadedModel> {
    const [row] = await this.db.query<{ id: string; version: number; payload: Buffer; created_at: Date }>(
      'SELECT id, version, payload, created_at FROM rec_model WHERE id = $1',
      [id],
    );
    if (!row) throw new Error('the row is gone');
    const p = decodePayload(row.payload);
    const ease = EaseModel.fromJSON(p.ease);
    const index = new Map(p.ease.itemIds.map((iid, i) => [iid, i]));
    // A smoke test: scoring must give one finite-or-not score per item.
    if (ease.scoreUser([]).length !== p.ease.itemIds.length) throw new Error('weights do not match the item list');
    const learned = new Set<number>();
    for (const iid of p.learned) {
      const i = index.get(iid);
      if (i !== undefined) learned.add(i);
    }
    return { id: row.id, version: row.version, createdAt: row.created_at, ease, index, itemIds: p.ease.itemIds, learned };
  }
}
