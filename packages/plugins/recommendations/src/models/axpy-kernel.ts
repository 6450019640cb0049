/**
 * The one hot loop of serving, as WebAssembly SIMD: `acc += w x row` over f32 rows, four rows per
 * call (`axpy4`) or one (`axpy1`). Source: `axpy.wat` next to this file; these bytes are its
 * build (`wabt` parseWat + toBinary, checked by a test). About 5-8x faster than the best plain
 * JavaScript loop on dense EASE rows; where WebAssembly SIMD is missing, callers use JavaScript.
 */
const AXPY_WASM = 'AGFzbQEAAAABFQJgCn9/f39/fX19fX8AYAR/f31/AAMDAgABBQMBAAEHGgMGbWVtb3J5AgAFYXhweTQAAAVheHB5MQABCtMBAooBAgF/BHsgBf0TIQsgBv0TIQwgB/0TIQ0gCP0TIQ4CQANAIAogCU8NASAAIApqIAAgCmr9AAQAIAsgASAKav0ABAD95gEgDCACIApq/QAEAP3mAf3kAf3kASANIAMgCmr9AAQA/eYBIA4gBCAKav0ABAD95gH95AH95AH9CwQAIApBEGohCgwACwsLRQIBfwF7IAL9EyEFAkADQCAEIANPDQEgACAEaiAAIARq/QAEACAFIAEgBGr9AAQA/eYB/eQB/QsEACAEQRBqIQQMAAsLCw==';

/** The compiled bytes (for the build check). */
export const axpyWasmBytes = (): Uint8Array => Buffer.from(AXPY_WASM, 'base64');

// The WebAssembly global, typed here: the project's TypeScript libs (es2022, no DOM) leave it out.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
};

interface AxpyExports {
  memory: WasmMemory;
  axpy4(acc: number, a: number, b: number, c: number, d: number, wa: number, wb: number, wc: number, wd: number, bytes: number): void;
  axpy1(acc: number, a: number, wa: number, bytes: number): void;
}

let compiled: WasmModule | null | undefined;
let enabled = !process.env.RAPPORT_NO_SIMD;

/** Turns the SIMD path off (or back on) for tables built afterwards; `RAPPORT_NO_SIMD=1` starts it off. */
export function useSimd(on: boolean): void {
  enabled = on;
}

function module(): WasmModule | null {
  if (!enabled) return null;
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(axpyWasmBytes());
    } catch {
      compiled = null; // no WebAssembly SIMD here
    }
  }
  return compiled;
}

/**
 * Row-major f32 rows of `stride` floats (a multiple of 4, zero-padded) in WebAssembly memory, plus
 * one accumulator row; `accumulate` sums weighted rows into it.
 */
export class AxpyKernel {
  /** The rows, `rows x stride`; fill them once after construction. */
  readonly matrix: Float32Array;
  /** The accumulator, `stride` floats. */
  readonly acc: Float32Array;
  private readonly accOffset: number;

  private constructor(private readonly ex: AxpyExports, readonly rows: number, readonly stride: number) {
    const bytes = rows * stride * 4;
    this.accOffset = bytes;
    const need = Math.ceil((bytes + stride * 4) / 65536) - ex.memory.buffer.byteLength / 65536;
    if (need > 0) ex.memory.grow(need);
    this.matrix = new Float32Array(ex.memory.buffer, 0, rows * stride);
    this.acc = new Float32Array(ex.memory.buffer, this.accOffset, stride);
  }

  /** A kernel for `rows` rows of `columns` floats, or null without WebAssembly SIMD. */
  static create(rows: number, columns: number): AxpyKernel | null {
    const m = module();
    if (!m) return null;
    const ex = new WebAssembly.Instance(m, {}).exports as unknown as AxpyExports;
    try {
      return new AxpyKernel(ex, rows, Math.ceil(columns / 4) * 4);
    } catch {
      return null; // more than WebAssembly memory can hold (4 GB): the JavaScript path serves
    }
  }

  /** `acc = sum of weights[k] x row(rowIndex[k])` (acc is zeroed first). */
  accumulate(rowIndex: readonly number[], weights: readonly number[]): Float32Array {
    this.acc.fill(0);
    const B = this.stride * 4;
    const acc = this.accOffset;
    let k = 0;
    for (; k + 3 < rowIndex.length; k += 4) {
      this.ex.axpy4(acc, rowIndex[k] * B, rowIndex[k + 1] * B, rowIndex[k + 2] * B, rowIndex[k + 3] * B, weights[k], weights[k + 1], weights[k + 2], weights[k + 3], B);
    }
    for (; k < rowIndex.length; k++) this.ex.axpy1(acc, rowIndex[k] * B, weights[k], B);
    return this.acc;
  }
}
