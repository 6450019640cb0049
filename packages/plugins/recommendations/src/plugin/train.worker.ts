/**
 * Fitting for scheduled training runs here, in a worker thread, so it never blocks requests. The
 * thread only computes: the plugin reads the interactions and stores the model through its
 * context, in the main thread. Started by the plugin from the compiled `dist`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fitModels, type TrainInput } from './train';

fitModels(workerData as TrainInput, (message) => parentPort?.postMessage({ progress: message }))
  .then((result) => parentPort?.postMessage({ done: result }))
  .catch((err: unknown) => parentPort?.postMessage({ error: err instanceof Error ? err.message : String(err) }));
