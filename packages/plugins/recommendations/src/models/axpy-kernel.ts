/**
 * The one hot loop of serving, as WebAssembly SIMD: `acc += w x row` into an f32 accumulator, four
 * rows per call (`axpy4`, `axpy4i8`) or one (`axpy1`, `axpy1i8`), over f32 or int8 rows. Source:
 * `axpy.wat` next to this file; these bytes are its build (`wabt` parseWat + toBinary, checked by a
 * test). About 5-8x faster than the best plain JavaScript loop on dense f32 EASE rows, and int8
 * rows halve that again where rows come from main memory (a quarter of the bytes to read); where
 * WebAssembly SIMD is missing, callers use JavaScript.
 */
const AXPY_WASM = 'AGFzbQEAAAABFQJgCn9/f39/fX19fX8AYAR/f31/AAMFBAABAAEFAwEAAQcuBQZtZW1vcnkCAAVheHB5NAAABWF4cHkxAAEHYXhweTRpOAACB2F4cHkxaTgAAwrYBASKAQIBfwR7IAX9EyELIAb9EyEMIAf9EyENIAj9EyEOAkADQCAKIAlPDQEgACAKaiAAIApq/QAEACALIAEgCmr9AAQA/eYBIAwgAiAKav0ABAD95gH95AH95AEgDSADIApq/QAEAP3mASAOIAQgCmr9AAQA/eYB/eQB/eQB/QsEACAKQRBqIQoMAAsLC0UCAX8BeyAC/RMhBQJAA0AgBCADTw0BIAAgBGogACAEav0ABAAgBSABIARq/QAEAP3mAf3kAf0LBAAgBEEQaiEEDAALCwuPAgICfwh7IAX9EyEMIAb9EyENIAf9EyEOIAj9EyEPIAAhCwJAA0AgCiAJTw0BIAEgCmr9CgMA/YcBIRAgAiAKav0KAwD9hwEhESADIApq/QoDAP2HASESIAQgCmr9CgMA/YcBIRMgCyAL/QAEACAMIBD9pwH9+gH95gEgDSAR/acB/foB/eYB/eQBIA4gEv2nAf36Af3mASAPIBP9pwH9+gH95gH95AH95AH95AH9CwQAIAsgC/0ABBAgDCAQ/agB/foB/eYBIA0gEf2oAf36Af3mAf3kASAOIBL9qAH9+gH95gEgDyAT/agB/foB/eYB/eQB/eQB/eQB/QsEECALQSBqIQsgCkEIaiEKDAALCwtzAgJ/AnsgAv0TIQYgACEFAkADQCAEIANPDQEgASAEav0KAwD9hwEhByAFIAX9AAQAIAYgB/2nAf36Af3mAf3kAf0LBAAgBSAF/QAEECAGIAf9qAH9+gH95gH95AH9CwQQIAVBIGohBSAEQQhqIQQMAAsLCw==';

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

type Axpy4 = (acc: number, a: number, b: number, c: number, d: number, wa: number, wb: number, wc: number, wd: number, length: number) => void;
type Axpy1 = (acc: number, a: number, wa: number, length: number) => void;

interface AxpyExports {
  memory: WasmMemory;
  /** f32 rows; `length` in bytes. */
  axpy4: Axpy4;
  axpy1: Axpy1;
  /** int8 rows; `length` in columns. */
  axpy4i8: Axpy4;
  axpy1i8: Axpy1;
}

/** Element type of a kernel's rows. */
export type KernelElement = 'float32' | 'int8';

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
 * Row-major rows of `stride` elements (f32 rows padded to a multiple of 4, int8 rows to a multiple
 * of 16, with zeros) in WebAssembly memory, plus one f32 accumulator row; `accumulate` sums weighted
 * rows into it. For int8 rows the caller folds each row's scale into its weight.
 */
export class AxpyKernel {
  /** The rows, `rows x stride`; fill them once after construction. */
  readonly matrix: Float32Array | Int8Array;
  /** The accumulator, `stride` floats. */
  readonly acc: Float32Array;
  private readonly accOffset: number;
  /** Bytes from one row to the next. */
  private readonly rowBytes: number;
  private readonly axpy4: Axpy4;
  private readonly axpy1: Axpy1;
  /** The last argument of the kernel functions: bytes for f32 rows, columns for int8 rows. */
  private readonly length: number;

  private constructor(ex: AxpyExports, readonly rows: number, readonly stride: number, readonly element: KernelElement) {
    const int8 = element === 'int8';
    this.rowBytes = int8 ? stride : stride * 4;
    const bytes = rows * this.rowBytes; // a multiple of 16 either way
    this.accOffset = bytes;
    const need = Math.ceil((bytes + stride * 4) / 65536) - ex.memory.buffer.byteLength / 65536;
    if (need > 0) ex.memory.grow(need);
    this.matrix = int8 ? new Int8Array(ex.memory.buffer, 0, rows * stride) : new Float32Array(ex.memory.buffer, 0, rows * stride);
    this.acc = new Float32Array(ex.memory.buffer, this.accOffset, stride);
    this.axpy4 = int8 ? ex.axpy4i8 : ex.axpy4;
    this.axpy1 = int8 ? ex.axpy1i8 : ex.axpy1;
    this.length = int8 ? stride : stride * 4;
  }

  /** A kernel for `rows` rows of `columns` elements, or null without WebAssembly SIMD. */
  static create(rows: number, columns: number, element: KernelElement = 'float32'): AxpyKernel | null {
    const m = module();
    if (!m) return null;
    const ex = new WebAssembly.Instance(m, {}).exports as unknown as AxpyExports;
    const multiple = element === 'int8' ? 16 : 4;
    try {
      return new AxpyKernel(ex, rows, Math.ceil(columns / multiple) * multiple, element);
    } catch {
      return null; // more than WebAssembly memory can hold (4 GB): the JavaScript path serves
    }
  }

  /** `acc = sum of weights[k] x row(rowIndex[k])` (acc is zeroed first). */
  accumulate(rowIndex: readonly number[], weights: readonly number[]): Float32Array {
    this.acc.fill(0);
    const R = this.rowBytes;
    const acc = this.accOffset;
    const len = this.length;
    let k = 0;
    for (; k + 3 < rowIndex.length; k += 4) {
      this.axpy4(acc, rowIndex[k] * R, rowIndex[k + 1] * R, rowIndex[k + 2] * R, rowIndex[k + 3] * R, weights[k], weights[k + 1], weights[k + 2], weights[k + 3], len);
    }
    for (; k < rowIndex.length; k++) this.axpy1(acc, rowIndex[k] * R, weights[k], len);
    return this.acc;
  }
}
