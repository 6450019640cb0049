/**
 * TensorFlow.js backend selection for Rapport.
 *
 * One process-wide choice, made once: native `@tensorflow/tfjs-node` when it is installed
 * (an optional dependency whose install downloads libtensorflow, so it is often absent),
 * otherwise the WebAssembly backend (XNNPACK, SIMD; loads its `.wasm` binaries from
 * `node_modules`, no network), otherwise the pure-JavaScript CPU backend.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** The `@tensorflow/tfjs-core` namespace, as handed out by {@link initTensorflow}. */
export type Tf = typeof tf;

/** Backends Rapport knows how to load, fastest first. */
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

/** Default preference order. */
export const TF_BACKENDS: readonly TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** Minimal structured logger (a pino logger fits). */
export interface MlLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Loads and registers one backend with `tf`. It must throw when the backend is unavailable.
 * Only needed to override the built-in loaders (tests simulate failures with it).
 */
export type TfBackendLoader = (tf: Tf) => void | Promise<void>;

/** Options of {@link initTensorflow}. */
export interface InitTensorflowOptions {
  /** Backends to try, in order. Default `['tensorflow', 'wasm', 'cpu']`. `cpu` is always the last resort. */
  prefer?: TfBackendName[];
  /** Where to log the choice. Default: one JSON line per event on stderr. */
  logger?: MlLogger;
  /** Replace the built-in loader of a backend (for tests, or to point wasm at other binaries). */
  loaders?: Partial<Record<TfBackendName, TfBackendLoader>>;
}

/** Result of {@link initTensorflow}. */
export interface TensorflowHandle {
  /** The initialised `@tensorflow/tfjs-core` namespace; use it for every tensor op. */
  tf: Tf;
  /** The active backend. */
  backend: TfBackendName;
  /** Why the first preference was not used, when it was not. */
  reason?: string;
}

/**
 * The default logger: structured JSON lines on stderr at `RAPPORT_LOG_LEVEL` or `LOG_LEVEL` (default
 * `info`; silent under vitest unless one is set, as for {@link createLogger}), so a test run or a CLI command's
 * human output carries no stray lines.
 */
const stderrLogger: MlLogger = {
  info: (obj, msg) => writeLine('info', obj, msg),
  warn: (obj, msg) => writeLine('warn', obj, msg),
};

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

function writeLine(level: 'info' | 'warn', obj: object, msg?: string): void {
  const threshold = LEVELS[process.env.RAPPORT_LOG_LEVEL || process.env.LOG_LEVEL || (process.env.VITEST ? 'silent' : 'info')] ?? LEVELS.info;
  if (LEVELS[level] < threshold) return;
  process.stderr.write(`${JSON.stringify({ level, name: 'rapport:ml', msg, ...obj })}\n`);
}

let wasmPathsSet = false;

const builtinLoaders: Record<TfBackendName, TfBackendLoader> = {
  tensorflow: () => {
    // Lazy: tfjs-node pulls in the full `@tensorflow/tfjs`; it registers 'tensorflow' with the
    // hoisted tfjs-core copy, which must be the one imported here.
    require('@tensorflow/tfjs-node');
    if (tf.engine().findBackendFactory('tensorflow') == null) {
      throw new Error(
        '@tensorflow/tfjs-node loaded but registered its backend with another copy of @tensorflow/tfjs-core (version mismatch?)',
      );
    }
  },
  wasm: () => {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    if (!wasmPathsSet) {
      const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(dir + path.sep);
      wasmPathsSet = true;
    }
  },
  cpu: () => {
    require('@tensorflow/tfjs-backend-cpu');
  },
};

let pending: Promise<TensorflowHandle> | undefined;
let active: TensorflowHandle | undefined;

/**
 * Initialises TensorFlow.js once per process and returns the namespace with the chosen backend.
 *
 * Tries each preferred backend in order (`tensorflow` = tfjs-node, then `wasm`, then `cpu`), logs
 * the choice and why earlier preferences were skipped, and falls back to `cpu` if everything else
 * fails. Memoised: later calls return the first result whatever their options
 * (see `resetTensorflow`, for tests).
 */
export function initTensorflow(options: InitTensorflowOptions = {}): Promise<TensorflowHandle> {
  if (pending) {
    if (options.prefer && active && !options.prefer.includes(active.backend)) {
      (options.logger ?? stderrLogger).info(
        { backend: active.backend, prefer: options.prefer },
        'tensorflow already initialised; keeping the active backend',
      );
    }
    return pending;
  }
  const attempt = select(options);
  pending = attempt;
  attempt.then(
    (h) => {
      if (pending === attempt) active = h;
    },
    () => {
      if (pending === attempt) pending = undefined;
    },
  );
  return attempt;
}

async function select(options: InitTensorflowOptions): Promise<TensorflowHandle> {
  const logger = options.logger ?? stderrLogger;
  // Production mode: no debug-only checks, and no console banners (the cpu backend's "install
  // tfjs-node" notice): the one log line below says which backend serves and why.
  tf.enableProdMode();
  const prefer = options.prefer ?? [...TF_BACKENDS];
  for (const name of prefer) {
    if (!TF_BACKENDS.includes(name)) throw new TypeError(`Unknown TensorFlow.js backend "${name}"`);
  }
  const order = prefer.includes('cpu') ? prefer : [...prefer, 'cpu' as const];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      await (options.loaders?.[name] ?? builtinLoaders[name])(tf);
      if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
      await tf.ready();
      const reason = skipped.length > 0 ? skipped.join('; ') : undefined;
      logger.info({ backend: name, ...(reason ? { skipped: reason } : {}) }, `tensorflow backend: ${name}`);
      return { tf, backend: name, ...(reason ? { reason } : {}) };
    } catch (err) {
      const message = describe(err);
      skipped.push(`${name}: ${message}`);
      // A backend that is simply not installed (tfjs-node, an optional dependency) is said once, in
      // the `skipped` of the line naming the backend chosen; one that failed to load is a warning.
      const notInstalled = (err as { code?: string } | null)?.code === 'MODULE_NOT_FOUND';
      if (!notInstalled) logger.warn({ backend: name, err: message }, `tensorflow backend ${name} unavailable`);
    }
  }
  throw new Error(`No TensorFlow.js backend could be initialised (${skipped.join('; ')})`);
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : typeof err === 'object' && err && 'message' in err ? String(err.message) : String(err);
  return message.split('\n')[0];
}

/** The active backend, or `null` before {@link initTensorflow} has resolved. For health checks. */
export function currentBackend(): TfBackendName | null {
  return active?.backend ?? null;
}

/**
 * Forgets the memoised choice so the next {@link initTensorflow} selects again (tests, reconfiguration).
 * Registered backends stay registered; tensors created before are migrated lazily by tfjs.
 */
export function resetTensorflow(): void {
  pending = undefined;
  active = undefined;
}
