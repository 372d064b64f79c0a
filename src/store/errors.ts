// Errors the store raises when a database file cannot be used as it is.
// Each names the file and what the operator can do, because they surface at start-up in a terminal.

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
        `restore it from a backup or move it aside to start a new one`,
      options,
    );
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

/** Turns SQLite's busy/corrupt codes into the store's explanatory errors; other errors pass through. */
export function explainSqliteError(error: unknown, path: string, busyTimeoutMs: number): unknown {
  const code = readSqliteCode(error);
  if (code === undefined) return error;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new DatabaseLockedError(path, busyTimeoutMs, { cause: error });
  }
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return new DatabaseCorruptError(path, (error as Error).message, { cause: error });
  }
  return error;
}
