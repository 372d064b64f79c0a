// Opens the SQLite file: refuses files that are not SQLite, damaged, unwritable or newer than this
// code, switches on WAL and a busy timeout, and applies pending migrations under a write lock.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  DatabaseCorruptError,
  DatabaseNotWritableError,
  DatabaseTooNewError,
  StoreError,
  explainSqliteError,
} from './errors.js';
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
    checkWritable(file);
  }

  let db: Db;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    throw explainSqliteError(error, file, busyTimeoutMs);
  }
  try {
    // The first read is the header check: a file that is not SQLite fails here (SQLITE_NOTADB)
    // before anything writes to it, and the version is checked before the WAL switch rewrites header bytes.
    // The header is never read with fs: on Linux, closing any descriptor of the file drops every POSIX
    // lock this process holds on it (SQLite's included), and the next process to open it would then
    // delete the live -wal and -shm files.
    const latest = list.reduce((v, m) => Math.max(v, m.version), 0);
    const fileVersion = db.pragma('user_version', { simple: true }) as number;
    if (fileVersion > latest) throw new DatabaseTooNewError(file, fileVersion, latest);
    if (!inMemory) checkIntegrity(db, file);
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

// SQLite reports a folder it cannot write to only as "unable to open database file", and only once
// it tries; access(2) names the culprit without opening the file (see the lock note above).
function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  for (const target of [dir, file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.accessSync(target, fs.constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && target !== dir) continue;
      throw new DatabaseNotWritableError(file, target, code ?? String(error), { cause: error });
    }
  }
}

// Damage in one table (a bad sector, a copy taken mid-write) otherwise surfaces only as
// "database disk image is malformed" on every job that touches it; quick_check reads every page
// once (about 0.1 s for 200 MB of blobs, measured here) and is far cheaper than that.
function checkIntegrity(db: Db, file: string): void {
  const rows = db.pragma('quick_check(5)') as Array<{ quick_check: string }>;
  const lines = rows
    .flatMap((row) => row.quick_check.split('\n'))
    .filter((line) => line !== '' && !line.startsWith('***'));
  if (lines.length === 1 && lines[0] === 'ok') return;
  throw new DatabaseCorruptError(file, `SQLite's quick_check found damage: ${lines.join('; ')}`);
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
