// The store as one object: opens the database and builds every aggregate on the same connection.
// This is what the bot, CLI and job runner hold; each aggregate stays usable on its own for tests.
import path from 'node:path';
import { ArtifactsStore } from './artifacts.js';
import { openDatabase, type Db, type OpenDatabaseOptions } from './database.js';
import { EmbeddingsStore } from './embeddings.js';
import { isStorageFull, readSqliteCode } from './errors.js';
import { GalleryStore } from './gallery.js';
import { JobsStore } from './jobs.js';
import { SeedsStore } from './seeds.js';
import { TrainingStore } from './training.js';
import { UsersStore, type UsersConfig } from './users.js';

export interface StoreOptions extends OpenDatabaseOptions {
  /** Where output files go; defaults to `artifacts/` beside the database file. */
  readonly artifactsDir?: string;
  readonly users?: UsersConfig;
}

export interface Store {
  readonly db: Db;
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly jobs: JobsStore;
  readonly seeds: SeedsStore;
  readonly artifacts: ArtifactsStore;
  readonly training: TrainingStore;
  readonly gallery: GalleryStore;
  readonly embeddings: EmbeddingsStore;
  readonly users: UsersStore;
  /**
   * SQLite's data_version: it changes whenever another connection (another process, or the engine
   * worker's own connection) has committed to the file since this connection last looked.
   */
  dataVersion(): number;
  /** Runs `fn` in one IMMEDIATE transaction (all or nothing). */
  transaction<T>(fn: () => T): T;
  /** Checkpoints the WAL into the main file and closes the connection. Idempotent. */
  close(): void;
}

/**
 * Opens the store at `file` (e.g. `data/illusionist.db`), creating and migrating it as needed.
 *
 * @example
 * const store = openStore('data/illusionist.db', { users: { admins: ['discord:1234'] } });
 * store.jobs.list({ limit: 5 });
 * store.close();
 */
export function openStore(file: string, options: StoreOptions = {}): Store {
  const opened = openDatabase(file, options);
  const { db } = opened;
  const artifactsDir = options.artifactsDir ?? path.join(path.dirname(path.resolve(file)), 'artifacts');
  const artifacts = new ArtifactsStore(db, artifactsDir);
  artifacts.removePartialFiles();
  return {
    db,
    path: opened.path,
    busyTimeoutMs: opened.busyTimeoutMs,
    jobs: new JobsStore(db),
    seeds: new SeedsStore(db),
    artifacts,
    training: new TrainingStore(db),
    gallery: new GalleryStore(db),
    embeddings: new EmbeddingsStore(db),
    users: new UsersStore(db, options.users),
    dataVersion: () => db.pragma('data_version', { simple: true }) as number,
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => {
      if (!db.open) return;
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch (error) {
        // A full disk (or a reader holding the WAL) must not keep the connection open: the WAL stays
        // beside the file, and SQLite replays it at the next open.
        if (!isStorageFull(error) && readSqliteCode(error) !== 'SQLITE_BUSY') throw error;
      }
      db.close();
    },
  };
}
