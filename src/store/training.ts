// Training runs and checkpoints: settings, per-epoch loss, checkpoint files, sample grids,
// and which checkpoint each model kind samples from by default.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './database.js';

export type RunStatus = 'running' | 'done' | 'failed' | 'cancelled';

export interface TrainingRun {
  readonly id: number;
  readonly jobId: number | null;
  readonly modelKind: string;
  readonly settings: unknown;
  readonly status: RunStatus;
  readonly startedAt: number;
  readonly finishedAt: number | null;
}

export interface EpochLoss {
  readonly epoch: number;
  readonly loss: number;
  readonly seconds: number | null;
}

export interface Checkpoint {
  readonly id: number;
  readonly runId: number | null;
  readonly modelKind: string;
  readonly name: string;
  readonly path: string;
  readonly sha256: string;
  readonly epoch: number | null;
  readonly committed: boolean;
  readonly createdAt: number;
}

export interface NewCheckpoint {
  readonly runId?: number | undefined;
  readonly modelKind: string;
  readonly name: string;
  readonly path: string;
  /** Computed from the file when omitted. */
  readonly sha256?: string | undefined;
  readonly epoch?: number | undefined;
  readonly committed?: boolean | undefined;
}

/** A model file shipped in the repository (models/), registered on first start. */
export interface CommittedModel {
  readonly modelKind: string;
  readonly name: string;
  readonly path: string;
}

interface RawRun {
  id: number;
  job_id: number | null;
  model_kind: string;
  settings: string;
  status: RunStatus;
  started_at: number;
  finished_at: number | null;
}

interface RawCheckpoint {
  id: number;
  run_id: number | null;
  model_kind: string;
  name: string;
  path: string;
  sha256: string;
  epoch: number | null;
  committed: number;
  created_at: number;
}

export function hashFile(file: string): string {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let n = fs.readSync(fd, chunk); n > 0; n = fs.readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export class TrainingStore {
  private readonly insertRunStmt;
  private readonly getRunStmt;
  private readonly listRunsStmt;
  private readonly finishRunStmt;
  private readonly epochStmt;
  private readonly epochsStmt;
  private readonly insertCheckpointStmt;
  private readonly updateCheckpointFileStmt;
  private readonly getCheckpointStmt;
  private readonly findCheckpointStmt;
  private readonly listCheckpointsStmt;
  private readonly setDefaultStmt;
  private readonly getDefaultStmt;
  private readonly gridStmt;
  private readonly gridsStmt;

  constructor(private readonly db: Db) {
    this.insertRunStmt = db.prepare(
      `INSERT INTO training_runs (job_id, model_kind, settings, status, started_at) VALUES (?, ?, ?, 'running', ?)`,
    );
    this.getRunStmt = db.prepare<[number], RawRun>('SELECT * FROM training_runs WHERE id = ?');
    this.listRunsStmt = db.prepare<[string | null, number], RawRun>(
      'SELECT * FROM training_runs WHERE (?1 IS NULL OR model_kind = ?1) ORDER BY id DESC LIMIT ?2',
    );
    this.finishRunStmt = db.prepare<[RunStatus, number, number]>(
      'UPDATE training_runs SET status = ?, finished_at = ? WHERE id = ?',
    );
    this.epochStmt = db.prepare<[number, number, number, number | null]>(
      'INSERT OR REPLACE INTO training_epochs (run_id, epoch, loss, seconds) VALUES (?, ?, ?, ?)',
    );
    this.epochsStmt = db.prepare<[number], EpochLoss>(
      'SELECT epoch, loss, seconds FROM training_epochs WHERE run_id = ? ORDER BY epoch',
    );
    this.insertCheckpointStmt = db.prepare(`
      INSERT INTO checkpoints (run_id, model_kind, name, path, sha256, epoch, committed, created_at)
      VALUES (@runId, @modelKind, @name, @path, @sha256, @epoch, @committed, @createdAt)`);
    this.updateCheckpointFileStmt = db.prepare<[string, string, number]>(
      'UPDATE checkpoints SET path = ?, sha256 = ? WHERE id = ?',
    );
    this.getCheckpointStmt = db.prepare<[number], RawCheckpoint>('SELECT * FROM checkpoints WHERE id = ?');
    this.findCheckpointStmt = db.prepare<[string, string], RawCheckpoint>(
      'SELECT * FROM checkpoints WHERE model_kind = ? AND name = ?',
    );
    // Named parameter: better-sqlite3 counts a reused `?1` as two values and refuses one.
    this.listCheckpointsStmt = db.prepare<{ kind: string | null }, RawCheckpoint>(
      'SELECT * FROM checkpoints WHERE (@kind IS NULL OR model_kind = @kind) ORDER BY id',
    );
    this.setDefaultStmt = db.prepare<[string, number]>(
      'INSERT OR REPLACE INTO default_checkpoints (model_kind, checkpoint_id) VALUES (?, ?)',
    );
    this.getDefaultStmt = db.prepare<[string], RawCheckpoint>(`
      SELECT c.* FROM default_checkpoints d JOIN checkpoints c ON c.id = d.checkpoint_id WHERE d.model_kind = ?`);
    this.gridStmt = db.prepare<[number, number, string]>(
      'INSERT OR IGNORE INTO sample_grids (run_id, epoch, artifact_sha256) VALUES (?, ?, ?)',
    );
    this.gridsStmt = db.prepare<[number], { epoch: number; sha256: string }>(
      'SELECT epoch, artifact_sha256 AS sha256 FROM sample_grids WHERE run_id = ? ORDER BY epoch',
    );
  }

  startRun(run: { jobId?: number | undefined; modelKind: string; settings: unknown }, now = Date.now()): TrainingRun {
    const info = this.insertRunStmt.run(run.jobId ?? null, run.modelKind, JSON.stringify(run.settings), now);
    return this.getRun(Number(info.lastInsertRowid))!;
  }

  finishRun(runId: number, status: Exclude<RunStatus, 'running'>, now = Date.now()): void {
    this.finishRunStmt.run(status, now, runId);
  }

  getRun(id: number): TrainingRun | undefined {
    const raw = this.getRunStmt.get(id);
    return raw === undefined ? undefined : toRun(raw);
  }

  listRuns(modelKind?: string, limit = 20): TrainingRun[] {
    return this.listRunsStmt.all(modelKind ?? null, limit).map(toRun);
  }

  /** Records (or, on a resumed run, overwrites) one epoch's mean loss. */
  recordEpoch(runId: number, epoch: number, loss: number, seconds?: number): void {
    this.epochStmt.run(runId, epoch, loss, seconds ?? null);
  }

  listEpochs(runId: number): EpochLoss[] {
    return this.epochsStmt.all(runId);
  }

  addSampleGrid(runId: number, epoch: number, artifactSha256: string): void {
    this.gridStmt.run(runId, epoch, artifactSha256);
  }

  listSampleGrids(runId: number): { epoch: number; sha256: string }[] {
    return this.gridsStmt.all(runId);
  }

  addCheckpoint(checkpoint: NewCheckpoint, now = Date.now()): Checkpoint {
    const info = this.insertCheckpointStmt.run({
      runId: checkpoint.runId ?? null,
      modelKind: checkpoint.modelKind,
      name: checkpoint.name,
      path: checkpoint.path,
      sha256: checkpoint.sha256 ?? hashFile(checkpoint.path),
      epoch: checkpoint.epoch ?? null,
      committed: checkpoint.committed ? 1 : 0,
      createdAt: now,
    });
    return this.getCheckpoint(Number(info.lastInsertRowid))!;
  }

  getCheckpoint(id: number): Checkpoint | undefined {
    const raw = this.getCheckpointStmt.get(id);
    return raw === undefined ? undefined : toCheckpoint(raw);
  }

  findCheckpoint(modelKind: string, name: string): Checkpoint | undefined {
    const raw = this.findCheckpointStmt.get(modelKind, name);
    return raw === undefined ? undefined : toCheckpoint(raw);
  }

  listCheckpoints(modelKind?: string): Checkpoint[] {
    return this.listCheckpointsStmt.all({ kind: modelKind ?? null }).map(toCheckpoint);
  }

  setDefaultCheckpoint(modelKind: string, checkpointId: number): void {
    const checkpoint = this.getCheckpoint(checkpointId);
    if (checkpoint === undefined) throw new RangeError(`no checkpoint with id ${checkpointId}`);
    if (checkpoint.modelKind !== modelKind) {
      throw new RangeError(`checkpoint ${checkpointId} is a ${checkpoint.modelKind} model, not ${modelKind}`);
    }
    this.setDefaultStmt.run(modelKind, checkpointId);
  }

  getDefaultCheckpoint(modelKind: string): Checkpoint | undefined {
    const raw = this.getDefaultStmt.get(modelKind);
    return raw === undefined ? undefined : toCheckpoint(raw);
  }

  /**
   * Registers the repository's model files (idempotent, run at every start): new files are added,
   * changed files get their new hash, and a model kind without a default gets the first one.
   */
  registerCommittedModels(
    models: readonly CommittedModel[],
    now = Date.now(),
  ): { added: Checkpoint[]; updated: Checkpoint[] } {
    const register = this.db.transaction(() => {
      const added: Checkpoint[] = [];
      const updated: Checkpoint[] = [];
      for (const model of models) {
        const file = path.resolve(model.path);
        if (!fs.existsSync(file))
          throw new RangeError(`committed model ${model.modelKind}/${model.name}: no file at ${file}`);
        const sha256 = hashFile(file);
        const existing = this.findCheckpoint(model.modelKind, model.name);
        if (existing === undefined) {
          added.push(this.addCheckpoint({ ...model, path: file, sha256, committed: true }, now));
        } else if (existing.sha256 !== sha256 || existing.path !== file) {
          this.updateCheckpointFileStmt.run(file, sha256, existing.id);
          updated.push(this.getCheckpoint(existing.id)!);
        }
        if (this.getDefaultCheckpoint(model.modelKind) === undefined) {
          this.setDefaultCheckpoint(model.modelKind, this.findCheckpoint(model.modelKind, model.name)!.id);
        }
      }
      return { added, updated };
    });
    return register.immediate();
  }
}

function toRun(r: RawRun): TrainingRun {
  return {
    id: r.id,
    jobId: r.job_id,
    modelKind: r.model_kind,
    settings: JSON.parse(r.settings) as unknown,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

function toCheckpoint(r: RawCheckpoint): Checkpoint {
  return {
    id: r.id,
    runId: r.run_id,
    modelKind: r.model_kind,
    name: r.name,
    path: r.path,
    sha256: r.sha256,
    epoch: r.epoch,
    committed: r.committed !== 0,
    createdAt: r.created_at,
  };
}
