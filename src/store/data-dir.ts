// Where the bot and the CLI keep their shared data: DATA_DIR (default ./data) holds the SQLite file
// and its artifacts, so a generation from either shows in the other's job list and gallery.
import { join, resolve } from 'node:path';

export const DATABASE_FILE = 'illusionist.db';

/** The data folder, absolute: DATA_DIR, or `data` in the working directory. */
export function dataDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return resolve(env.DATA_DIR?.trim() || 'data');
}

/** The store's database file in `dir`. */
export function databasePath(dir: string): string {
  return join(dir, DATABASE_FILE);
}
