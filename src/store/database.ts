// Opens the SQLite file: refuses files that are not SQLite or are newer than this code,
// switches on WAL and a busy timeout, and applies pending migrations under a write lock.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseCorruptError, DatabaseTooNewError, StoreError, explainSqliteError } from './errors.js';
import { latestSchemaVersion, migrations, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** How long a statement waits for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
  /** For tests of the upgrade path; production always uses the built-in list. */
  migrations?: readonly Migration[];
}

export interface OpenedDatabase {
  readonly db: Db;
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly schemaVersion: number;
}

const sqliteHeader = Buffer.from('SQLite format 3\0', 'latin1');
export const defaultBusyTimeoutMs = 5000;

/**
 * Opens (creating if needed) the database at `file`, migrated to the latest schema.
 *
 * @example
 * const { db } = openDatabase('data/illusionist.db');
 */
export function openDatabase(file: string, options: OpenDatabaseOptions = {}): OpenedDatabase {
  const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs;
  const list = options.migrations ?? migrations;
  const inMemory = file === ':memory:';
  if (!inMemory) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    checkHeader(file);
  }

  let db: Db;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    throw explainSqliteError(error, file, busyTimeoutMs);
  }
  try {
    // Check the version before anything writes (the WAL switch rewrites header bytes).
    const latest = list.reduce((v, m) => Math.max(v, m.version), 0);
    const fileVersion = db.pragma('user_version', { simple: true }) as number;
    if (fileVersion > latest) throw new DatabaseTooNewError(file, fileVersion, latest);
    // WAL lets the bot's readers (gallery pages, /job lookups) run while the worker writes.
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const schemaVersion = applyMigrations(db, file, list);
    return { db, path: file, busyTimeoutMs, schemaVersion };
  } catch (error) {
    db.close();
    throw error instanceof StoreError ? error : explainSqliteError(error, file, busyTimeoutMs);
  }
}

// SQLite itself would report "file is not a database" only at the first query, after the
// WAL pragma may already have touched it; checking the 16-byte header first keeps the file pristine.
function checkHeader(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const header = Buffer.alloc(sqliteHeader.length);
    const read = fs.readSync(fd, header, 0, header.length, 0);
    if (read === 0) return; // an empty file is a new database
    if (read < header.length || !header.equals(sqliteHeader)) {
      throw new DatabaseCorruptError(file, 'it does not start with the SQLite file header');
    }
  } finally {
    fs.closeSync(fd);
  }
}

function applyMigrations(db: Db, file: string, list: readonly Migration[]): number {
  const latest = list.reduce((v, m) => Math.max(v, m.version), 0);
  const migrate = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > latest) throw new DatabaseTooNewError(file, current, latest);
    for (const migration of [...list].sort((a, b) => a.version - b.version)) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }
    return Math.max(current, latest);
  });
  // IMMEDIATE takes the write lock before reading the version, so two processes starting
  // together cannot both run the same migration.
  return migrate.immediate();
}

export { latestSchemaVersion };
