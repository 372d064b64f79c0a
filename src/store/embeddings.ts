// Cache of prompt embeddings (for DeepFloyd, T5 output) keyed by model and exact prompt text,
// so the large text encoder runs once per distinct prompt. Float32 or float16 (Uint16Array) blobs.
import type { Db } from './database.js';

export type EmbeddingDtype = 'float32' | 'float16';

export interface CachedEmbedding {
  readonly dtype: EmbeddingDtype;
  readonly dims: readonly number[];
  /** float16 values are raw IEEE half bits, as onnxruntime takes them. */
  readonly data: Float32Array | Uint16Array;
}

interface RawEmbedding {
  dtype: EmbeddingDtype;
  dims: string;
  data: Buffer;
}

export class EmbeddingsStore {
  private readonly getStmt;
  private readonly touchStmt;
  private readonly putStmt;
  private readonly countStmt;
  private readonly pruneStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string, string], RawEmbedding>(
      'SELECT dtype, dims, data FROM embeddings WHERE model = ? AND prompt = ?',
    );
    this.touchStmt = db.prepare<[number, string, string]>(
      'UPDATE embeddings SET hits = hits + 1, last_used_at = ? WHERE model = ? AND prompt = ?',
    );
    this.putStmt = db.prepare(`
      INSERT OR REPLACE INTO embeddings (model, prompt, dtype, dims, data, created_at, last_used_at, hits)
      VALUES (@model, @prompt, @dtype, @dims, @data, @now, @now, 0)`);
    this.countStmt = db.prepare<[], number>('SELECT count(*) FROM embeddings').pluck();
    this.pruneStmt = db.prepare<[number]>(
      'DELETE FROM embeddings WHERE (model, prompt) IN (SELECT model, prompt FROM embeddings ORDER BY last_used_at DESC LIMIT -1 OFFSET ?)',
    );
  }

  get(model: string, prompt: string, now = Date.now()): CachedEmbedding | undefined {
    const raw = this.getStmt.get(model, prompt);
    if (raw === undefined) return undefined;
    this.touchStmt.run(now, model, prompt);
    // Copy into a fresh ArrayBuffer: SQLite's buffer need not be aligned for a typed-array view.
    const bytes = new Uint8Array(raw.data.byteLength);
    bytes.set(raw.data);
    const data = raw.dtype === 'float32' ? new Float32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
    return { dtype: raw.dtype, dims: JSON.parse(raw.dims) as number[], data };
  }

  put(
    model: string,
    prompt: string,
    embedding: { dims: readonly number[]; data: Float32Array | Uint16Array },
    now = Date.now(),
  ): void {
    const expected = embedding.dims.reduce((a, b) => a * b, 1);
    if (expected !== embedding.data.length) {
      throw new RangeError(
        `embedding dims [${embedding.dims.join(', ')}] hold ${expected} values, data has ${embedding.data.length}`,
      );
    }
    this.putStmt.run({
      model,
      prompt,
      dtype: embedding.data instanceof Float32Array ? 'float32' : 'float16',
      dims: JSON.stringify(embedding.dims),
      data: Buffer.from(embedding.data.buffer, embedding.data.byteOffset, embedding.data.byteLength),
      now,
    });
  }

  count(): number {
    return this.countStmt.get()!;
  }

  /** Keeps the `keep` most recently used entries (a T5 XXL embedding is 77×4096 floats, 1.2 MB). */
  prune(keep: number): number {
    return this.pruneStmt.run(keep).changes;
  }
}
