import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../core/src/database/embedded-postgres';
import { createRequire } from 'node:module';
import { freePort } from './free-port';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string to a maintenance database of the run's PostgreSQL (test files create their own databases from it). */
    pgAdminUrl: string;
  }
}

let embedded: EmbeddedPostgresHandle | undefined;
let embeddedDir = '';

/**
 * Starts one PostgreSQL for the whole test run: `TEST_DATABASE_URL` when set (any PostgreSQL >= 14,
 * the user must be allowed to create databases), else an embedded one in a temporary directory.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (adminUrl) {
    const c = new Client({ connectionString: adminUrl });
    await c.connect().catch((err: Error) => {
      throw new Error(`TEST_DATABASE_URL=${adminUrl} does not answer: ${err.message}`);
    });
    await c.end();
  } else {
    const dataDir = path.join(os.tmpdir(), `rapport-test-${randomBytes(4).toString('hex')}`, 'pgdata');
    embeddedDir = dataDir;
    embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), ephemeral: true, database: 'rapport_template' });
    adminUrl = embedded.adminUrl;
  }
  project.provide('pgAdminUrl', adminUrl);
  // Said once for the run; test files pick the TensorFlow.js backend silently, in the same order.
  const where = process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : 'embedded PostgreSQL';
  process.stdout.write(`rapport tests: ${where}, Node ${process.version}, TensorFlow.js backend ${tfjsNodeInstalled() ? 'tensorflow (tfjs-node)' : 'wasm (@tensorflow/tfjs-node is not installed)'}\n`);
  return async () => {
    await embedded?.stop();
    if (!process.env.TEST_DATABASE_URL && embedded) fs.rmSync(path.dirname(embeddedDir), { recursive: true, force: true });
  };
}

function tfjsNodeInstalled(): boolean {
  try {
    createRequire(__filename).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}
