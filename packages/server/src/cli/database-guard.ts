import fs from 'node:fs';
import path from 'node:path';
import type { RapportConfig } from '@rapport/core/internal';

/** A command found no database to use and was not asked to make one. */
export class NoDatabaseError extends Error {
  constructor(readonly dataDir: string, createCommand: string) {
    super(
      [
        `no database: DATABASE_URL is not set and there is no embedded PostgreSQL at ${dataDir}`,
        `(looked there from the working directory ${process.cwd()}).`,
        'Run the command from the directory where you ran `rapport start` (the one holding .rapport), or set',
        'DATABASE_URL (or RAPPORT_DATA_DIR) to the database you mean, or make a new embedded database here:',
        `  ${createCommand}`,
      ].join('\n'),
    );
    this.name = 'NoDatabaseError';
  }
}

/** Whether `dataDir` holds an initialised PostgreSQL cluster. */
export function embeddedExists(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, 'PG_VERSION'));
}

/**
 * Where a command's database is, before it starts one: `DATABASE_URL` (or `database.url`), an
 * existing embedded data directory, or, with `--create` only, a new one. Without it, a command run
 * from the wrong directory would silently make a second, empty database (and a key created there
 * would be unknown to the running server).
 * @param createCommand - the command line to suggest (the same, with `--create`)
 * @returns the data directory that is about to be created, or null when nothing is created
 */
export function locateDatabase(config: RapportConfig, create: boolean, createCommand: string): string | null {
  if (config.database.url) return null;
  const dir = config.database.embedded.dataDir;
  if (embeddedExists(dir)) return null;
  if (!create) throw new NoDatabaseError(dir, createCommand);
  return dir;
}
