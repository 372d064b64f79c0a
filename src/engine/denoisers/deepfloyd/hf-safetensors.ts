// Reads Hugging Face safetensors files without loading them: the header (where each tensor lies) and,
// on request, one tensor as float32. The UNet graph points its initializers at these byte ranges, so a
// 9 GB checkpoint is never copied into the model.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fromHalf } from '../../runtime/half.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'I64';
const DTYPE_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, I64: 8 };

export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file (8 + header length + data_offsets[0]). */
  offset: number;
  /** Byte length of the data. */
  length: number;
}

export interface SafetensorsHeader {
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/** A JSON header larger than this is not a safetensors file (the real library's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

function readExactly(fd: number, length: number, position: number, path: string): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`${path}: truncated (wanted ${length} bytes at ${position}, file ended after ${done})`);
    done += n;
  }
  return buf;
}

export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new Error(`${path}: not a safetensors file (only ${size} bytes)`);
    const headerLen = Number(readExactly(fd, 8, 0, path).readBigUInt64LE(0));
    if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > size) {
      throw new Error(`${path}: not a safetensors file (header length ${headerLen}, file size ${size})`);
    }
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(readExactly(fd, headerLen, 8, path).toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new Error(`${path}: corrupt safetensors header (not JSON)`);
    }
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = raw as Record<string, string>;
        continue;
      }
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'I64') {
        throw new Error(`${path}: tensor "${name}" has dtype ${String(e.dtype)}; supported: F32, F16, I64`);
      }
      const shape = e.shape as number[];
      const [start, end] = e.data_offsets as [number, number];
      const count = shape.reduce((a, b) => a * b, 1);
      if (end - start !== count * DTYPE_SIZE[e.dtype]) {
        throw new Error(`${path}: tensor "${name}" has ${end - start} bytes for ${e.dtype} [${shape.join(', ')}]`);
      }
      if (dataStart + end > size) throw new Error(`${path}: truncated (tensor "${name}" ends at byte ${dataStart + end}, file has ${size})`);
      tensors.set(name, { dtype: e.dtype, shape, offset: dataStart + start, length: end - start });
    }
    return { dataStart, tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

/** One tensor's values as float32 (F16 widened exactly, I64 converted to the nearest float). */
export function readTensor(path: string, entry: SafetensorsEntry): Float32Array {
  const fd = openSync(path, 'r');
  let buf: Buffer;
  try {
    buf = readExactly(fd, entry.length, entry.offset, path);
  } finally {
    closeSync(fd);
  }
  const n = entry.length / DTYPE_SIZE[entry.dtype];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = entry.dtype === 'F32' ? buf.readFloatLE(i * 4) : entry.dtype === 'F16' ? fromHalf(buf.readUInt16LE(i * 2)) : Number(buf.readBigInt64LE(i * 8));
  }
  return out;
}
