import { afterEach, describe, expect, it } from 'vitest';
import { currentBackend, initTensorflow, resetTensorflow, type MlLogger } from '../../src/ml';

function recordingLogger(): MlLogger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
  };
}

describe('initTensorflow', () => {
  afterEach(() => resetTensorflow());

  it('falls back to wasm when tfjs-node is absent, and computes a matmul', async () => {
    const logger = recordingLogger();
    const { tf, backend, reason } = await initTensorflow({ logger });
    expect(backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    expect(reason).toMatch(/^tensorflow: /);
    // One line says which backend serves and why tfjs-node was skipped; a missing optional package is no warning.
    const said = logger.lines.filter((l) => /tensorflow backend/.test(l.msg ?? ''));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'info', msg: 'tensorflow backend: wasm', obj: { backend: 'wasm', skipped: expect.stringMatching(/^tensorflow: /) } });

    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.tensor2d([[5, 6], [7, 8]]);
    const c = tf.matMul(a, b);
    expect(Array.from(await c.data())).toEqual([19, 22, 43, 50]);
    tf.dispose([a, b, c]);
  });

  it('is memoised', async () => {
    const first = initTensorflow({ logger: recordingLogger() });
    const second = initTensorflow({ prefer: ['cpu'], logger: recordingLogger() });
    expect(second).toBe(first);
    expect((await second).backend).toBe('wasm');
  });

  it('picks cpu when asked to', async () => {
    const { tf, backend, reason } = await initTensorflow({ prefer: ['cpu'], logger: recordingLogger() });
    expect(backend).toBe('cpu');
    expect(reason).toBeUndefined();
    expect(tf.getBackend()).toBe('cpu');
    expect(currentBackend()).toBe('cpu');
    const c = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    expect(Array.from(c.dataSync())).toEqual([11]);
  });

  it('falls back to cpu when wasm fails to load', async () => {
    const logger = recordingLogger();
    const { backend, reason } = await initTensorflow({
      prefer: ['tensorflow', 'wasm', 'cpu'],
      logger,
      loaders: {
        wasm: () => {
          throw new Error('simulated wasm failure');
        },
      },
    });
    expect(backend).toBe('cpu');
    expect(reason).toContain('wasm: simulated wasm failure');
    expect(logger.lines.find((l) => l.level === 'warn' && (l.obj as { backend?: string }).backend === 'wasm')).toBeDefined();
  });

  it('uses cpu as the last resort when no listed backend loads', async () => {
    const { backend } = await initTensorflow({ prefer: ['tensorflow'], logger: recordingLogger() });
    expect(backend).toBe('cpu');
  });

  it('rejects unknown backend names', async () => {
    await expect(initTensorflow({ prefer: ['webgl' as never], logger: recordingLogger() })).rejects.toThrow(/Unknown/);
    expect(currentBackend()).toBeNull();
  });
});
