// Hugging Face safetensors as the repos ship them: one file or shards named by model.safetensors.index.json
// (and its variants, e.g. model.safetensors.index.fp16.json). Only headers are read up front, so a graph can
// point its initializers at the bytes in place (ONNX external data) instead of copying gigabytes.
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { ElementType } from '../../onnx/graph-builder.js';
import { float16ToFloat32 } from '../../runtime/half.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPES: Record<SafetensorsDtype, { bytes: number; onnx?: ElementType }> = {
  F64: { bytes: 8, onnx: 'float64' },
  F32: { bytes: 4, onnx: 'float32' },
  F16: { bytes: 2, onnx: 'float16' },
  BF16: { bytes: 2 },
  I64: { bytes: 8, onnx: 'int64' },
  I32: { bytes: 4, onnx: 'int32' },
  I16: { bytes: 2 },
  I8: { bytes: 1, onnx: 'int8' },
  U8: { bytes: 1, onnx: 'uint8' },
  BOOL: { bytes: 1, onnx: 'bool' },
};

/** One tensor of a safetensors file: where its bytes lie, absolute within `path`. */
export interface SafetensorInfo {
  name: string;
  /** The file's absolute path. */
  path: string;
  /** The file name relative to the folder (what an ONNX external-data `location` names). */
  file: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offset of the data from the start of the file: 8 + header length + data_offsets[0]. */
  offset: number;
  byteLength: number;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Reads one file's header (not its data). */
export function readSafetensorsHeader(
  path: string,
  file = basename(path),
): { tensors: Map<string, SafetensorInfo>; metadata: Record<string, string> } {
  const size = statSync(path).size;
  if (size < 8) throw new SafetensorsError(`${path}: not a safetensors file (only ${size} bytes)`);
  const fd = openSync(path, 'r');
  let json: string;
  let headerLen: number;
  try {
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const big = lenBuf.readBigUInt64LE(0);
    if (big === 0n || big > BigInt(size - 8) || big > 100_000_000n) {
      throw new SafetensorsError(`${path}: not a safetensors file (header length ${big} for a file of ${size} bytes)`);
    }
    headerLen = Number(big);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    json = headerBuf.toString('utf8');
  } finally {
    closeSync(fd);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new SafetensorsError(`${path}: corrupt safetensors header (not JSON)`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, SafetensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const spec = DTYPES[e.dtype as SafetensorsDtype];
    if (!spec)
      throw new SafetensorsError(
        `${path}: tensor '${name}' has dtype ${String(e.dtype)}; known: ${Object.keys(DTYPES).join(', ')}`,
      );
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new SafetensorsError(`${path}: tensor '${name}' lacks a shape or data_offsets`);
    }
    const [start, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (end - start !== count * spec.bytes) {
      throw new SafetensorsError(
        `${path}: tensor '${name}' has ${end - start} bytes for shape [${e.shape.join(', ')}] of ${e.dtype}`,
      );
    }
    if (base + end > size)
      throw new SafetensorsError(
        `${path}: truncated (tensor '${name}' ends at byte ${base + end}, the file has ${size})`,
      );
    tensors.set(name, {
      name,
      path,
      file,
      dtype: e.dtype as SafetensorsDtype,
      shape: e.shape,
      offset: base + start,
      byteLength: end - start,
    });
  }
  return { tensors, metadata };
}

/** The ONNX element type of a safetensors dtype, or an error naming the ones that have one. */
export function onnxTypeOf(info: SafetensorInfo): ElementType {
  const t = DTYPES[info.dtype].onnx;
  if (!t)
    throw new SafetensorsError(
      `${info.path}: tensor '${info.name}' is ${info.dtype}, which ONNX initializers here cannot hold; use F32 or F16 weights`,
    );
  return t;
}

/**
 * The tensors of a model folder: `<stem>.safetensors`, or the shards listed by `<stem>.safetensors.index.json`.
 * `variant` ('fp16') picks `<stem>.<variant>.safetensors` / `<stem>.safetensors.index.<variant>.json`,
 * the names transformers and diffusers write.
 */
export class SafetensorsFolder {
  private constructor(
    readonly dir: string,
    readonly files: readonly string[],
    private readonly tensors: Map<string, SafetensorInfo>,
  ) {}

  /** Candidate file names for a stem and variant, index first (what an error lists). */
  static candidates(stem: string, variant?: string): string[] {
    return variant
      ? [`${stem}.safetensors.index.${variant}.json`, `${stem}.${variant}.safetensors`]
      : [`${stem}.safetensors.index.json`, `${stem}.safetensors`];
  }

  /** Null when none of the candidate files exists. */
  static open(dir: string, stem = 'model', variant?: string): SafetensorsFolder | null {
    const [indexName, singleName] = SafetensorsFolder.candidates(stem, variant) as [string, string];
    const indexPath = join(dir, indexName);
    let files: string[];
    if (existsSync(indexPath)) {
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(readFileSync(indexPath, 'utf8')) as typeof index;
      } catch (err) {
        throw new SafetensorsError(`${indexPath}: not valid JSON (${(err as Error).message})`);
      }
      if (!index.weight_map || typeof index.weight_map !== 'object')
        throw new SafetensorsError(`${indexPath}: has no "weight_map"`);
      files = [...new Set(Object.values(index.weight_map))];
      for (const f of files) {
        if (f.includes('/') || f.includes('\\'))
          throw new SafetensorsError(`${indexPath}: shard "${f}" must be a file name in the same folder`);
        if (!existsSync(join(dir, f)))
          throw new SafetensorsError(
            `${indexPath} lists ${f}, which is missing from ${dir}; download the whole folder again`,
          );
      }
      const tensors = new Map<string, SafetensorInfo>();
      for (const f of files) {
        for (const [name, info] of readSafetensorsHeader(join(dir, f), f).tensors) tensors.set(name, info);
      }
      for (const [name, f] of Object.entries(index.weight_map)) {
        const got = tensors.get(name);
        if (!got) throw new SafetensorsError(`${indexPath} puts '${name}' in ${f}, but no shard holds it`);
        if (got.file !== f) throw new SafetensorsError(`${indexPath} puts '${name}' in ${f}, but it is in ${got.file}`);
      }
      return new SafetensorsFolder(dir, files, tensors);
    }
    const single = join(dir, singleName);
    if (!existsSync(single)) return null;
    return new SafetensorsFolder(dir, [singleName], readSafetensorsHeader(single, singleName).tensors);
  }

  /** One named file (a golden, a single-file checkpoint). */
  static file(path: string): SafetensorsFolder {
    return new SafetensorsFolder(dirname(path), [basename(path)], readSafetensorsHeader(path).tensors);
  }

  get names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** Throws naming the tensor and the folder when absent. */
  info(name: string): SafetensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(`tensor '${name}' is not in ${this.dir} (${this.files.join(', ')})`);
    return t;
  }

  /** Reads one tensor's data as float32 (see readTensor). */
  readFloat32(name: string): Float32Array {
    return readTensor(this.info(name));
  }

  readInt64(name: string): BigInt64Array {
    const t = this.info(name);
    if (t.dtype !== 'I64') throw new SafetensorsError(`${t.path}: tensor '${name}' is ${t.dtype}, not I64`);
    const raw = readBytes(t);
    return new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8).slice();
  }
}

/** One tensor's values as float32: F16/BF16 widened exactly, I64 as the nearest float (for small tensors: build time, goldens). */
export function readTensor(t: SafetensorInfo): Float32Array {
  const raw = readBytes(t);
  if (t.dtype === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
  if (t.dtype === 'F16') return float16ToFloat32(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2));
  if (t.dtype === 'BF16') {
    const src = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    const out = new Float32Array(src.length);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
    return out;
  }
  if (t.dtype === 'I64')
    return Float32Array.from(new BigInt64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8), Number);
  throw new SafetensorsError(`${t.path}: tensor '${t.name}' is ${t.dtype}, not a float or I64 tensor`);
}

function readBytes(t: SafetensorInfo): Buffer {
  // Aligned copy: typed-array views need an offset that is a multiple of the element size.
  const buf = Buffer.alloc(t.byteLength);
  const fd = openSync(t.path, 'r');
  try {
    readSync(fd, buf, 0, t.byteLength, t.offset);
  } finally {
    closeSync(fd);
  }
  return buf;
}

/**
 * Where onnxruntime is to resolve external data for these weight files, and each file's `location`
 * there. onnxruntime refuses a location whose real path leaves the folder it is given, and downloads
 * are often symlinks (the hub cache's snapshots point into its blobs/, older `--local-dir` downloads
 * into the cache), so the folder is the deepest one holding every file's real path.
 */
export function externalDataRoot(paths: readonly string[]): { dir: string; location(path: string): string } {
  if (paths.length === 0) throw new RangeError('externalDataRoot needs at least one file');
  const real = new Map(paths.map((p) => [p, realpathSync(p)]));
  let parts = dirname(real.get(paths[0]!)!).split(sep);
  for (const r of real.values()) {
    const other = dirname(r).split(sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  const dir = parts.join(sep) || sep;
  return {
    dir,
    location(path: string): string {
      const r = real.get(path) ?? realpathSync(path);
      return relative(dir, r).split(sep).join('/');
    },
  };
}
