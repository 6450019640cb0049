import { decodeFloat32, decodeInt32, encodeFloat32, encodeInt32 } from './binary-codec';
import type { InteractionMatrix } from './interaction-matrix';
import type { Explanation, FitOptions, HistoryEntry, Recommender, SerializedModel } from './model.types';
import { popularityPrior } from './ranking';
import { SeededRandom } from './seeded-random';
import { initTensorflow } from './tensorflow';

let instances = 0;

/** Hyperparameters of {@link MultDaeModel}. */
export interface MultDaeOptions {
  /** Hidden (tanh) units. Default 200. */
  hidden?: number;
  /** Input dropout rate. Default 0.5. */
  dropout?: number;
  /** L2 penalty on the weight matrices. Default 0.01. */
  l2?: number;
  /** Adam learning rate. Default 0.003 (few users per epoch on small catalogues). */
  learningRate?: number;
  /** Training epochs. Default 100. */
  epochs?: number;
  /** Users per step. Default 128. */
  batchSize?: number;
  /** Items with fewer users are left out of the network (and rank last, by popularity). Default 5. */
  minItemUsers?: number;
  /** Seed of initialisation, shuffling and dropout. Default 42. */
  seed?: number;
}

/** JSON form of {@link MultDaeModel}. */
export interface MultDaeJSON extends SerializedModel {
  type: 'mult-dae';
  options: MultDaeOptions;
  hidden: number;
  items: string;
  w1: string;
  b1: string;
  w2: string;
  b2: string;
  prior: string;
  losses: number[];
}

/**
 * Mult-DAE (Liang et al. 2018, "Variational Autoencoders for Collaborative Filtering"):
 * L2-normalised history with input dropout → tanh hidden layer → softmax over items, trained on the
 * multinomial log-likelihood (+ L2) with Adam. Dense tfjs-core ops only (matMul, add, tanh,
 * logSoftmax), so it trains on the wasm backend; the gradients are written out by hand and applied
 * with `optimizer.applyGradients`, because tfjs-core alone registers no gradient functions. Scoring
 * runs in plain JavaScript from the sparse history (no tfjs needed once trained).
 */
export class MultDaeModel implements Recommender {
  readonly name = 'mult-dae';
  /** Mean training loss per epoch (negative log-likelihood per user + L2 term). */
  losses: number[] = [];
  private items: Int32Array = new Int32Array(0);
  private columnOf: Int32Array = new Int32Array(0);
  private h = 0;
  private w1: Float32Array = new Float32Array(0); // n x h
  private b1: Float32Array = new Float32Array(0);
  private w2: Float32Array = new Float32Array(0); // h x n
  private b2: Float32Array = new Float32Array(0);
  private prior: Float32Array = new Float32Array(0);
  private itemIds: string[] = [];

  constructor(private readonly options: MultDaeOptions = {}) {}

  async fit(matrix: InteractionMatrix, opts: FitOptions = {}): Promise<void> {
    const { tf } = await initTensorflow();
    const o = this.options;
    const h = o.hidden ?? 200;
    const dropout = o.dropout ?? 0.5;
    const l2 = o.l2 ?? 0.01;
    const epochs = o.epochs ?? 100;
    const batchSize = o.batchSize ?? 128;
    const rng = new SeededRandom(o.seed ?? 42);
    const counts = matrix.itemUserCounts();
    const items = Int32Array.from([...counts.keys()].filter((i) => counts[i] >= (o.minItemUsers ?? 5)));
    const n = items.length;
    const columnOf = new Int32Array(matrix.numItems).fill(-1);
    items.forEach((item, c) => (columnOf[item] = c));
    const users = Array.from({ length: matrix.numUsers }, (_, u) => u).filter((u) => {
      for (let p = matrix.indptr[u]; p < matrix.indptr[u + 1]; p++) if (columnOf[matrix.indices[p]] >= 0) return true;
      return false;
    });

    const glorot = (fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return Float32Array.from({ length: fanIn * fanOut }, () => (2 * rng.next() - 1) * limit);
    };
    const id = `mult-dae-${++instances}`;
    const W1 = tf.variable(tf.tensor2d(glorot(n, h), [n, h]), true, `${id}/w1`);
    const B1 = tf.variable(tf.zeros([h]), true, `${id}/b1`);
    const W2 = tf.variable(tf.tensor2d(glorot(h, n), [h, n]), true, `${id}/w2`);
    const B2 = tf.variable(tf.zeros([n]), true, `${id}/b2`);
    const optimizer = tf.train.adam(o.learningRate ?? 0.003);
    this.losses = [];
    try {
      for (let epoch = 0; epoch < epochs; epoch++) {
        rng.shuffle(users);
        let total = 0;
        for (let s = 0; s < users.length; s += batchSize) {
          const batch = users.slice(s, s + batchSize);
          const raw = matrix.denseRows(batch, columnOf, n);
          const input = normaliseWithDropout(raw, batch.length, n, dropout, rng);
          const loss = tf.tidy(() => {
            const x = tf.tensor2d(raw, [batch.length, n]);
            const xIn = tf.tensor2d(input, [batch.length, n]);
            // Forward pass.
            const hidden = tf.tanh(tf.add(tf.matMul(xIn, W1), B1));
            const logSoftmax = tf.logSoftmax(tf.add(tf.matMul(hidden, W2), B2));
            const nll = tf.div(tf.neg(tf.sum(tf.mul(logSoftmax, x))), batch.length);
            const penalty = tf.mul(l2, tf.add(tf.sum(tf.square(W1)), tf.sum(tf.square(W2))));
            // Backward pass, by hand: tfjs-core registers no gradient functions (they ship with the
            // full @tensorflow/tfjs), and explicit transposes keep wasm on its fast matMul path.
            const dLogits = tf.div(tf.sub(tf.mul(tf.exp(logSoftmax), tf.sum(x, 1, true)), x), batch.length);
            const dPre = tf.mul(tf.matMul(dLogits, tf.transpose(W2)), tf.sub(1, tf.square(hidden)));
            optimizer.applyGradients({
              [W2.name]: tf.add(tf.matMul(tf.transpose(hidden), dLogits), tf.mul(2 * l2, W2)),
              [B2.name]: tf.sum(dLogits, 0),
              [W1.name]: tf.add(tf.matMul(tf.transpose(xIn), dPre), tf.mul(2 * l2, W1)),
              [B1.name]: tf.sum(dPre, 0),
            });
            return tf.add(nll, penalty);
          });
          total += (await loss.data())[0] * batch.length;
          loss.dispose();
        }
        this.losses.push(total / Math.max(1, users.length));
        opts.onProgress?.({ model: this.name, epoch, loss: this.losses[epoch] });
      }
      this.w1 = (await W1.data()) as Float32Array;
      this.b1 = (await B1.data()) as Float32Array;
      this.w2 = (await W2.data()) as Float32Array;
      this.b2 = (await B2.data()) as Float32Array;
    } finally {
      optimizer.dispose();
      tf.dispose([W1, B1, W2, B2]);
    }
    this.h = h;
    this.items = items;
    this.columnOf = columnOf;
    this.prior = popularityPrior(counts);
    this.itemIds = [...matrix.itemIds];
  }

  /** Pre-activation of the hidden layer for the normalised history, skipping `without`. */
  private hiddenPre(history: readonly HistoryEntry[], without = -1): Float64Array {
    const h = this.h;
    const pre = Float64Array.from(this.b1);
    let norm = 0;
    for (const e of history) if (e.item !== without && this.col(e.item) >= 0) norm += e.weight * e.weight;
    if (norm === 0) return pre;
    const scale = 1 / Math.sqrt(norm);
    for (const e of history) {
      const c = this.col(e.item);
      if (e.item === without || c < 0) continue;
      const f = e.weight * scale;
      for (let k = 0; k < h; k++) pre[k] += f * this.w1[c * h + k];
    }
    return pre;
  }

  private col(item: number): number {
    return item >= 0 && item < this.columnOf.length ? this.columnOf[item] : -1;
  }

  /** Output logits (softmax order) for items in the network; the rest rank below, by popularity. */
  scoreUser(history: readonly HistoryEntry[]): Float32Array {
    const h = this.h;
    const n = this.items.length;
    const hidden = this.hiddenPre(history).map(Math.tanh);
    const logits = Float64Array.from(this.b2);
    for (let k = 0; k < h; k++) {
      const a = hidden[k];
      const row = k * n;
      for (let c = 0; c < n; c++) logits[c] += a * this.w2[row + c];
    }
    let min = Number.POSITIVE_INFINITY;
    for (let c = 0; c < n; c++) if (logits[c] < min) min = logits[c];
    const out = new Float32Array(this.prior.length);
    for (let i = 0; i < out.length; i++) out[i] = (n > 0 ? min : 0) - 1.5 + this.prior[i] * 5e5;
    for (let c = 0; c < n; c++) out[this.items[c]] = logits[c];
    return out;
  }

  /** Occlusion: the history item whose removal lowers `item`'s logit the most. */
  explain(history: readonly HistoryEntry[], item: number): Explanation {
    const c = this.col(item);
    if (c < 0) return { reason: 'popular' };
    const logit = (pre: Float64Array) => {
      let s = this.b2[c];
      for (let k = 0; k < this.h; k++) s += Math.tanh(pre[k]) * this.w2[k * this.items.length + c];
      return s;
    };
    const full = logit(this.hiddenPre(history));
    let best = -1;
    let bestDrop = 0;
    for (const e of history) {
      if (e.item === item || this.col(e.item) < 0) continue;
      const drop = full - logit(this.hiddenPre(history, e.item));
      if (drop > bestDrop) {
        bestDrop = drop;
        best = e.item;
      }
    }
    return best >= 0 ? { reason: 'because you interacted with', becauseItem: best } : { reason: 'popular' };
  }

  toJSON(): MultDaeJSON {
    return {
      type: 'mult-dae',
      version: 1,
      itemIds: this.itemIds,
      options: this.options,
      hidden: this.h,
      items: encodeInt32(this.items),
      w1: encodeFloat32(this.w1),
      b1: encodeFloat32(this.b1),
      w2: encodeFloat32(this.w2),
      b2: encodeFloat32(this.b2),
      prior: encodeFloat32(this.prior),
      losses: this.losses,
    };
  }

  static fromJSON(json: MultDaeJSON): MultDaeModel {
    const m = new MultDaeModel(json.options);
    m.h = json.hidden;
    m.items = decodeInt32(json.items);
    m.w1 = decodeFloat32(json.w1);
    m.b1 = decodeFloat32(json.b1);
    m.w2 = decodeFloat32(json.w2);
    m.b2 = decodeFloat32(json.b2);
    m.prior = decodeFloat32(json.prior);
    m.itemIds = [...json.itemIds];
    m.losses = [...json.losses];
    m.columnOf = new Int32Array(json.itemIds.length).fill(-1);
    m.items.forEach((item, c) => (m.columnOf[item] = c));
    return m;
  }
}

/** Row-wise L2 normalisation followed by inverted dropout (kept entries scaled by 1/(1-rate)). */
function normaliseWithDropout(raw: Float32Array, rows: number, cols: number, rate: number, rng: SeededRandom): Float32Array {
  const out = new Float32Array(raw.length);
  const keepScale = rate > 0 ? 1 / (1 - rate) : 1;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let norm = 0;
    for (let c = 0; c < cols; c++) norm += raw[base + c] * raw[base + c];
    if (norm === 0) continue;
    const scale = keepScale / Math.sqrt(norm);
    for (let c = 0; c < cols; c++) {
      const v = raw[base + c];
      if (v !== 0 && (rate === 0 || rng.next() >= rate)) out[base + c] = v * scale;
    }
  }
  return out;
}
