// Reproduction recipes: for every job, the seed and everything else that fixes its output
// (command, canonical parameters, model, checkpoint file hash, engine version).
import type { Db } from './database.js';

export interface SeedRecipe {
  readonly jobId: number;
  readonly seed: number;
  readonly command: string;
  readonly params: unknown;
  readonly model: string | null;
  readonly checkpointId: number | null;
  /** The checkpoint file's hash, so a later retrain under the same name is detected. */
  readonly checkpointSha256: string | null;
  readonly engineVersion: string;
  /** Hash of the first output file once the job is done; equal recipes must give equal hashes. */
  readonly outputSha256: string | null;
  readonly createdAt: number;
}

interface RawSeed {
  job_id: number;
  seed: number;
  command: string;
  params: string;
  model: string | null;
  checkpoint_id: number | null;
  checkpoint_sha256: string | null;
  engine_version: string;
  output_sha256: string | null;
  created_at: number;
}

/** JSON with object keys sorted, so equal parameters always serialise to equal text. */
export function stringifyCanonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}

export class SeedsStore {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly outputStmt;
  private readonly sameRecipeStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(`
      INSERT INTO seeds (job_id, seed, command, params, model, checkpoint_id, checkpoint_sha256, engine_version, created_at)
      VALUES (@jobId, @seed, @command, @params, @model, @checkpointId, @checkpointSha256, @engineVersion, @createdAt)`);
    this.getStmt = db.prepare<[number], RawSeed>('SELECT * FROM seeds WHERE job_id = ?');
    this.outputStmt = db.prepare<[string, number]>('UPDATE seeds SET output_sha256 = ? WHERE job_id = ?');
    this.sameRecipeStmt = db.prepare<[number, string, string, string | null, string | null, string], RawSeed>(`
      SELECT * FROM seeds
      WHERE seed = ? AND command = ? AND params = ? AND model IS ? AND checkpoint_sha256 IS ? AND engine_version = ?
      ORDER BY job_id`);
  }

  record(recipe: Omit<SeedRecipe, 'outputSha256' | 'createdAt'>, now = Date.now()): void {
    this.insertStmt.run({
      jobId: recipe.jobId,
      seed: recipe.seed,
      command: recipe.command,
      params: stringifyCanonical(recipe.params ?? {}),
      model: recipe.model,
      checkpointId: recipe.checkpointId,
      checkpointSha256: recipe.checkpointSha256,
      engineVersion: recipe.engineVersion,
      createdAt: now,
    });
  }

  get(jobId: number): SeedRecipe | undefined {
    const raw = this.getStmt.get(jobId);
    return raw === undefined ? undefined : toRecipe(raw);
  }

  setOutput(jobId: number, sha256: string): void {
    this.outputStmt.run(sha256, jobId);
  }

  /** Every job (oldest first) made from exactly the same recipe as `jobId`, itself included. */
  listSameRecipe(jobId: number): SeedRecipe[] {
    const me = this.getStmt.get(jobId);
    if (me === undefined) return [];
    return this.sameRecipeStmt
      .all(me.seed, me.command, me.params, me.model, me.checkpoint_sha256, me.engine_version)
      .map(toRecipe);
  }
}

function toRecipe(r: RawSeed): SeedRecipe {
  return {
    jobId: r.job_id,
    seed: r.seed,
    command: r.command,
    params: JSON.parse(r.params) as unknown,
    model: r.model,
    checkpointId: r.checkpoint_id,
    checkpointSha256: r.checkpoint_sha256,
    engineVersion: r.engine_version,
    outputSha256: r.output_sha256,
    createdAt: r.created_at,
  };
}
