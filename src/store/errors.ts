// Errors the store raises when a database file cannot be used as it is.
// Each names the file and what the operator can do, because they surface at start-up in a terminal.
import os from 'node:os';

/** Base class, so callers can tell store problems from programming errors. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The file was written by a newer Illusionist; opening it here could damage it. */
export class DatabaseTooNewError extends StoreError {
  constructor(
    readonly path: string,
    readonly fileVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      `database ${path} has schema version ${fileVersion}, but this build of Illusionist only knows ` +
        `versions up to ${codeVersion}; upgrade Illusionist, or point it at another data folder ` +
        `(the file was left untouched)`,
    );
  }
}

/** The file is not a SQLite database, or SQLite reports it damaged. It is never overwritten. */
export class DatabaseCorruptError extends StoreError {
  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `database ${path} is not a usable SQLite database (${detail}); the file was left untouched — ` +
        `stop every Illusionist on this data folder, then restore the file from a backup, or save what ` +
        `can be read with \`sqlite3 ${path} .recover | sqlite3 ${path}.recovered\` and move ` +
        `${path}.recovered into its place (or move the file aside to start a new one)`,
      options,
    );
  }
}

/** The data folder or the database file cannot be written by this process (permissions, a read-only mount). */
export class DatabaseNotWritableError extends StoreError {
  constructor(
    readonly path: string,
    /** The folder or file that refused writing. */
    readonly target: string,
    readonly errno: string,
    options?: ErrorOptions,
  ) {
    const what =
      target === path
        ? 'the file itself'
        : target.startsWith(path)
          ? `its ${target.slice(path.length)} file ${target}`
          : `its folder ${target}`;
    super(
      `database ${path} cannot be opened for writing: ${what} is not writable (${errno}${errno === 'EROFS' ? ', a read-only file system' : ''}). ` +
        `Illusionist writes the database and its -wal and -shm files beside it; make ${target} writable by this user` +
        `${userName() ? ` (${userName()})` : ''}, or set DATA_DIR to a writable folder`,
      options,
    );
  }
}

/** The disk (or quota) holding the data folder is full: the write was refused, nothing half-written was kept. */
export class StorageFullError extends StoreError {
  constructor(
    readonly path: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `the disk holding ${path} is full (${detail}); free some space there — queued jobs run again by themselves once there is room`,
      options,
    );
  }
}

function userName(): string | undefined {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER;
  }
}

/** Another process held a write lock for longer than the busy timeout. */
export class DatabaseLockedError extends StoreError {
  constructor(
    readonly path: string,
    readonly waitedMs: number,
    options?: ErrorOptions,
  ) {
    super(
      `database ${path} is locked by another process (waited ${waitedMs} ms); ` +
        `is another Illusionist running on the same data folder? Nothing was changed`,
      options,
    );
  }
}

/** SQLite's result code on a better-sqlite3 error, if it is one. */
export function readSqliteCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** Whether `error` says the disk or quota is full: SQLite's SQLITE_FULL or a file write's ENOSPC/EDQUOT. */
export function isStorageFull(error: unknown): boolean {
  const code = readSqliteCode(error);
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

/** Turns SQLite's busy/corrupt/full codes into the store's explanatory errors; other errors pass through. */
export function explainSqliteError(error: unknown, path: string, busyTimeoutMs: number): unknown {
  const code = readSqliteCode(error);
  if (code === undefined) return error;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new DatabaseLockedError(path, busyTimeoutMs, { cause: error });
  }
  if (code.startsWith('SQLITE_NOTADB')) {
    return new DatabaseCorruptError(path, 'it does not start with the SQLite file header', { cause: error });
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseCorruptError(path, (error as Error).message, { cause: error });
  }
  if (isStorageFull(error)) return new StorageFullError(path, (error as Error).message, { cause: error });
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return new StoreError(
      `database ${path} could not be opened for writing (SQLite: ${(error as Error).message}); check that its folder ` +
        `and the file with its -wal and -shm files are readable and writable by this user, or set DATA_DIR to another folder`,
      { cause: error },
    );
  }
  return error;
}
