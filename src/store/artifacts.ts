// Output files, content-addressed on disk as <dir>/<sha256>.<ext>, with a row per file.
// The row is written only after the file is complete and durable, so a row never points at half a file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './database.js';

export interface Artifact {
  readonly sha256: string;
  readonly ext: string;
  readonly mime: string;
  readonly bytes: number;
  /** Absolute path of the file. */
  readonly path: string;
  readonly createdAt: number;
}

export interface JobOutput extends Artifact {
  readonly ordinal: number;
  readonly caption: string | null;
  /** The file name it was made under (e.g. views.png), when the handler gave one. */
  readonly name: string | null;
}

interface RawArtifact {
  sha256: string;
  ext: string;
  mime: string;
  bytes: number;
  path: string;
  created_at: number;
}

const mimeByExt: Readonly<Record<string, string>> = {
  png: 'image/png',
  gif: 'image/gif',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  json: 'application/json',
  txt: 'text/plain',
};

const tempPrefix = '.partial-';

export function hashBytes(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export class ArtifactsStore {
  private readonly getStmt;
  private readonly insertStmt;
  private readonly linkStmt;
  private readonly outputsStmt;

  constructor(
    private readonly db: Db,
    readonly dir: string,
  ) {
    this.getStmt = db.prepare<[string], RawArtifact>('SELECT * FROM artifacts WHERE sha256 = ?');
    this.insertStmt = db.prepare(`
      INSERT OR IGNORE INTO artifacts (sha256, ext, mime, bytes, path, created_at)
      VALUES (@sha256, @ext, @mime, @bytes, @path, @createdAt)`);
    this.linkStmt = db.prepare(`
      INSERT OR REPLACE INTO job_outputs (job_id, ordinal, artifact_sha256, caption, name)
      VALUES (@jobId, @ordinal, @sha256, @caption, @name)`);
    this.outputsStmt = db.prepare<
      [number],
      RawArtifact & { ordinal: number; caption: string | null; name: string | null }
    >(`
      SELECT a.*, o.ordinal, o.caption, o.name FROM job_outputs o JOIN artifacts a ON a.sha256 = o.artifact_sha256
      WHERE o.job_id = ? ORDER BY o.ordinal`);
  }

  /**
   * Stores `data` (idempotent: equal bytes give the same artifact). The file is written to a
   * temporary name, fsynced and renamed into place before the row is inserted.
   */
  save(data: Uint8Array, ext: string, now = Date.now()): Artifact {
    const cleanExt = ext.replace(/^\./, '').toLowerCase();
    if (!/^[a-z0-9]{1,8}$/.test(cleanExt))
      throw new RangeError(`artifact extension must be 1-8 letters or digits, got "${ext}"`);
    const sha256 = hashBytes(data);
    const existing = this.get(sha256);
    if (existing !== undefined && fs.existsSync(existing.path)) return existing;

    fs.mkdirSync(this.dir, { recursive: true });
    const finalPath = path.resolve(this.dir, `${sha256}.${cleanExt}`);
    const tempPath = path.resolve(this.dir, `${tempPrefix}${process.pid}-${crypto.randomUUID()}`);
    try {
      const fd = fs.openSync(tempPath, 'w');
      try {
        fs.writeSync(fd, data);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tempPath, finalPath);
    } catch (error) {
      // A half-written file on a full disk would hold on to the space the next write needs.
      fs.rmSync(tempPath, { force: true });
      throw error;
    }
    syncDirectory(this.dir);

    this.insertStmt.run({
      sha256,
      ext: cleanExt,
      mime: mimeByExt[cleanExt] ?? 'application/octet-stream',
      bytes: data.byteLength,
      path: path.basename(finalPath), // relative, so the data folder can move
      createdAt: now,
    });
    return this.get(sha256)!;
  }

  get(sha256: string): Artifact | undefined {
    const raw = this.getStmt.get(sha256);
    return raw === undefined ? undefined : this.toArtifact(raw);
  }

  linkToJob(jobId: number, ordinal: number, sha256: string, caption?: string, name?: string): void {
    this.linkStmt.run({ jobId, ordinal, sha256, caption: caption ?? null, name: name ?? null });
  }

  listForJob(jobId: number): JobOutput[] {
    return this.outputsStmt
      .all(jobId)
      .map((r) => ({ ...this.toArtifact(r), ordinal: r.ordinal, caption: r.caption, name: r.name }));
  }

  private toArtifact(r: RawArtifact): Artifact {
    const file = path.resolve(this.dir, r.path);
    return { sha256: r.sha256, ext: r.ext, mime: r.mime, bytes: r.bytes, path: file, createdAt: r.created_at };
  }

  /** The jobs that have this artifact among their outputs (equal bytes are shared). */
  jobsWithOutput(sha256: string): number[] {
    return this.db
      .prepare<[string], number>('SELECT DISTINCT job_id FROM job_outputs WHERE artifact_sha256 = ? ORDER BY job_id')
      .pluck()
      .all(sha256);
  }

  /**
   * Deletes the rows and files of these artifacts that nothing refers to any more (no job output,
   * training sample grid, seed record or job's parameters, as uploads are); returns those removed.
   * Equal bytes share one artifact, so another job's identical picture keeps the file.
   */
  removeUnreferenced(sha256s: readonly string[]): string[] {
    const used = this.db
      .prepare<{ sha: string }, number>(`SELECT
      EXISTS (SELECT 1 FROM job_outputs WHERE artifact_sha256 = @sha) OR
      EXISTS (SELECT 1 FROM sample_grids WHERE artifact_sha256 = @sha) OR
      EXISTS (SELECT 1 FROM seeds WHERE output_sha256 = @sha) OR
      EXISTS (SELECT 1 FROM jobs WHERE instr(params, @sha) > 0)`)
      .pluck();
    const removed: string[] = [];
    for (const sha of sha256s) {
      const artifact = this.get(sha);
      if (artifact === undefined || used.get({ sha }) !== 0) continue;
      this.db.prepare('DELETE FROM artifacts WHERE sha256 = ?').run(sha);
      fs.rmSync(artifact.path, { force: true });
      removed.push(sha);
    }
    return removed;
  }

  /**
   * Deletes temporary files left by a process that died mid-write; returns how many. Only old
   * ones: another process on the same data folder (bot and CLI) may be writing a fresh one.
   */
  removePartialFiles(olderThanMs = 10 * 60_000, now = Date.now()): number {
    if (!fs.existsSync(this.dir)) return 0;
    let removed = 0;
    for (const name of fs.readdirSync(this.dir)) {
      if (!name.startsWith(tempPrefix)) continue;
      const file = path.join(this.dir, name);
      if (now - fs.statSync(file).mtimeMs < olderThanMs) continue;
      fs.rmSync(file, { force: true });
      removed += 1;
    }
    return removed;
  }
}

// A rename is durable only once the directory entry is flushed; Windows cannot open directories.
function syncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
