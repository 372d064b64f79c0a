// The ONLY importer of onnxruntime-node: named sessions loaded by path from a model folder, feeds checked
// against the session's inputs, readable errors, fp16/fp32 tensors, CUDA when the build has it, else CPU;
// WebGPU (Dawn, on Vulkan under Linux) when asked for by name.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { nativeCall } from './native-calls.js';

// Loaded on the first session, not at import: a process that only imports the engine (the bot's main
// thread, which hands models to its worker) never loads the native library. Two threads that both
// load it can abort the process as it exits (onnxruntime's global environment is torn down by the
// first thread's cleanup while the other still holds it).
let ortModule: typeof Ort | undefined;
export async function loadOrt(): Promise<typeof Ort> {
  ortModule ??= await import('onnxruntime-node');
  return ortModule;
}
import { InputError } from '../errors.js';

export type FeedType = 'float32' | 'float16' | 'int64' | 'int32';
export type FeedData = Float32Array | Uint16Array | BigInt64Array | Int32Array;

/** A model input: fp16 data is a Uint16Array of IEEE half bits. */
export interface Feed {
  type: FeedType;
  dims: readonly number[];
  data: FeedData;
}

export interface Fetched {
  type: string;
  dims: number[];
  data: FeedData;
}

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';
export type ProviderChoice = 'auto' | ExecutionProvider;

/**
 * What onnxruntime-node's WebGPU provider needs: its Dawn finds GPUs through Vulkan on Linux. Mesa
 * 22 (Debian 12's own) lacks a feature Dawn asks for; Mesa 25's software lavapipe and NVIDIA's
 * driver work.
 */
const WEBGPU_NEEDS =
  "a Vulkan driver that Dawn accepts: NVIDIA's, or Mesa 25 or newer (Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers)";

export interface SessionOptions {
  /**
   * 'auto' (default) tries CUDA when this onnxruntime build has it, then CPU. 'webgpu' is never
   * chosen by 'auto': nodes it lacks run on CPU, and it fails rather than fall back as a whole.
   */
  provider?: ProviderChoice;
  /** Where the chosen provider is said; default console.error (stdout may carry data). */
  log?: (message: string) => void;
  intraOpThreads?: number;
  /**
   * false: the session's threads sleep when idle instead of spinning (onnxruntime's
   * session.intra_op/inter_op.allow_spinning = 0). For sessions that take turns with another in the
   * same process: a guided time model and its guide sample 40 digits in 7.8 s instead of 11.4 s.
   */
  spinning?: boolean;
  /**
   * For a model given as bytes whose initializers live in other files (ONNX external data): the folder
   * their relative `location`s name. onnxruntime then reads them from there (memory-mapped on CPU)
   * instead of the model carrying copies; its own `externalData` option wants the bytes in memory.
   */
  externalDataDir?: string;
  /**
   * false: onnxruntime keeps weights as loaded instead of repacking them for its kernels
   * (session.disable_prepacking). With external data that leaves them memory-mapped from their files
   * (a 1.3 GB T5: 1.27 GB file-backed, 50 MB anonymous, vs 1.25 GB anonymous with prepacking), at some
   * speed (4.4 s vs 3.9 s per run there).
   */
  prepack?: boolean;
}

export class MissingModelError extends InputError {
  override name = 'MissingModelError';
  constructor(
    readonly path: string,
    readonly hint: string,
  ) {
    super(`model file not found: ${path}\n${hint}`, undefined, 'model-not-installed');
  }
}

export class OnnxRunError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'OnnxRunError';
  }
}

/** Set once CUDA failed to start, so later sessions go straight to CPU. */
let cudaFailed = false;

/**
 * Whether to try CUDA under 'auto': the CUDA provider library is present only when onnxruntime-node was
 * installed with ONNXRUNTIME_NODE_INSTALL=cuda12. Probing without it makes onnxruntime print an error.
 */
function cudaInstalled(ort: typeof Ort): boolean {
  if (cudaFailed || !ort.listSupportedBackends().some((b) => b.name === 'cuda')) return false;
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    const lib = join(
      dirname(pkg),
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      'libonnxruntime_providers_cuda.so',
    );
    return existsSync(lib);
  } catch {
    return false;
  }
}

function describe(feeds: Record<string, Feed>): string {
  return Object.entries(feeds)
    .map(([name, f]) => `  ${name}: ${f.type} [${f.dims.join(', ')}] (${f.data.length} values)`)
    .join('\n');
}

/** One loaded model. */
export class OnnxSession {
  private constructor(
    readonly name: string,
    readonly path: string,
    readonly provider: ExecutionProvider,
    private session: Ort.InferenceSession | undefined,
  ) {}

  /** `source` is a file path, or the model's bytes (exports made in memory). */
  static async load(name: string, source: string | Uint8Array, opts: SessionOptions = {}): Promise<OnnxSession> {
    const ort = await loadOrt();
    const path = typeof source === 'string' ? source : `<${source.byteLength} bytes in memory>`;
    const log = opts.log ?? ((m: string) => console.error(m));
    const base: Ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all' };
    if (opts.intraOpThreads !== undefined) base.intraOpNumThreads = opts.intraOpThreads;
    const session: Record<string, unknown> = {};
    if (opts.spinning === false)
      Object.assign(session, { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } });
    if (opts.externalDataDir !== undefined) {
      if (typeof source === 'string')
        throw new OnnxRunError(
          `${name}: externalDataDir is for models given as bytes; a model file finds its external data beside itself`,
        );
      if (!existsSync(opts.externalDataDir))
        throw new MissingModelError(opts.externalDataDir, `the folder holding ${name}'s weights`);
      session.model_external_initializers_file_folder_path = resolve(opts.externalDataDir);
    }
    if (opts.prepack === false) session.disable_prepacking = '1';
    if (Object.keys(session).length > 0) base.extra = { session };
    // The two overloads (path, bytes) cannot take a union argument.
    const create = (executionProviders: string[]): Promise<Ort.InferenceSession> =>
      nativeCall(() =>
        typeof source === 'string'
          ? ort.InferenceSession.create(source, { ...base, executionProviders })
          : ort.InferenceSession.create(source, { ...base, executionProviders }),
      );
    const choice = opts.provider ?? 'auto';
    if (choice === 'webgpu') {
      try {
        const s = await create(['webgpu']);
        log(`onnx: ${name} on WebGPU (${path})`);
        return new OnnxSession(name, path, 'webgpu', s);
      } catch (err) {
        const first = (err as Error).message.split('\n')[0]!.replace(/^.*? was false\. /, '');
        throw new OnnxRunError(`cannot load ${name} on WebGPU: ${first}; it needs ${WEBGPU_NEEDS}`, err);
      }
    }
    if (choice === 'cuda' || (choice === 'auto' && cudaInstalled(ort))) {
      try {
        const s = await create(['cuda', 'cpu']);
        log(`onnx: ${name} on CUDA (${path})`);
        return new OnnxSession(name, path, 'cuda', s);
      } catch (err) {
        if (choice === 'cuda') throw new OnnxRunError(`cannot load ${name} on CUDA: ${(err as Error).message}`, err);
        cudaFailed = true;
        log(`onnx: CUDA unavailable for ${name} (${(err as Error).message.split('\n')[0]}); using CPU`);
      }
    }
    try {
      const s = await create(['cpu']);
      log(`onnx: ${name} on CPU (${path})`);
      return new OnnxSession(name, path, 'cpu', s);
    } catch (err) {
      throw new OnnxRunError(`cannot load ONNX model ${name} from ${path}: ${(err as Error).message}`, err);
    }
  }

  private get live(): Ort.InferenceSession {
    if (!this.session) throw new OnnxRunError(`session ${this.name} was disposed`);
    return this.session;
  }

  get inputNames(): readonly string[] {
    return this.live.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.live.outputNames;
  }

  /** Declared element type of an input ('float16' for fp16 exports), if the model says. */
  inputType(name: string): string | undefined {
    const m = this.live.inputMetadata.find((x) => x.name === name);
    return m?.isTensor ? m.type : undefined;
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, Fetched>> {
    const s = this.live;
    const given = Object.keys(feeds);
    const missing = s.inputNames.filter((n) => !given.includes(n));
    const extra = given.filter((n) => !s.inputNames.includes(n));
    if (missing.length || extra.length) {
      throw new OnnxRunError(
        `${this.name}: feeds do not match the model inputs [${s.inputNames.join(', ')}]` +
          (missing.length ? `; missing ${missing.join(', ')}` : '') +
          (extra.length ? `; unknown ${extra.join(', ')}` : '') +
          `\ngiven:\n${describe(feeds)}`,
      );
    }
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      ortFeeds[name] = new ortModule!.Tensor(f.type, f.data, [...f.dims]);
    }
    let out: Ort.InferenceSession.ReturnType;
    try {
      out = await nativeCall(() => s.run(ortFeeds));
    } catch (err) {
      const expected = s.inputMetadata
        .map((m) => `  ${m.name}: ${m.isTensor ? `${m.type} [${m.shape.join(', ')}]` : 'non-tensor'}`)
        .join('\n');
      throw new OnnxRunError(
        `${this.name} failed: ${(err as Error).message}\ngiven:\n${describe(feeds)}\nexpected:\n${expected}`,
        err,
      );
    }
    const result: Record<string, Fetched> = {};
    for (const [name, t] of Object.entries(out)) {
      result[name] = { type: t.type, dims: [...t.dims], data: t.data as FeedData };
    }
    return result;
  }

  async dispose(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await nativeCall(() => s.release());
  }
}

/** A folder of ONNX files loaded lazily by name; a missing file says how to produce it. */
export class ModelFolder {
  private readonly sessions = new Map<string, Promise<OnnxSession>>();
  readonly dir: string;

  constructor(
    dir: string,
    private readonly opts: SessionOptions & { howToProduce: string },
  ) {
    this.dir = resolve(dir);
  }

  pathOf(file: string): string {
    return join(this.dir, file);
  }

  has(file: string): boolean {
    return existsSync(this.pathOf(file));
  }

  /** Throws MissingModelError unless the file exists. */
  require(file: string): string {
    const path = this.pathOf(file);
    if (!existsSync(path)) throw new MissingModelError(path, this.opts.howToProduce);
    return path;
  }

  /** The session for `file`, loaded once and cached under `name`. */
  session(name: string, file: string): Promise<OnnxSession> {
    let s = this.sessions.get(name);
    if (!s) {
      const path = this.require(file);
      s = OnnxSession.load(name, path, this.opts);
      this.sessions.set(name, s);
      s.catch(() => this.sessions.delete(name));
    }
    return s;
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.dispose()));
  }
}
