// Reads and writes the safetensors format (8-byte header length, JSON header, raw little-endian
// data): one self-describing file per checkpoint that Python's `safetensors` can open too.
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';

export interface TensorEntry {
  shape: number[];
  data: Float32Array;
}

/** Writes atomically (temp file + fsync + rename) so an interrupted save never leaves half a file. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorEntry>,
  metadata: Record<string, string>,
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.length * 4;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data to 8 bytes, as the reference writer does
  const jsonBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + jsonBytes.length + offset);
  out.writeBigUInt64LE(BigInt(jsonBytes.length), 0);
  jsonBytes.copy(out, 8);
  let pos = 8 + jsonBytes.length;
  for (const t of tensors.values()) {
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, out);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export function readSafetensors(path: string): { tensors: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new Error(`${path}: not a safetensors file (only ${buf.length} bytes)`);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen <= 0 || 8 + headerLen > buf.length)
    throw new Error(`${path}: not a safetensors file (header length ${headerLen} exceeds file size ${buf.length})`);
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch {
    throw new Error(`${path}: corrupt safetensors header (not JSON)`);
  }
  const base = 8 + headerLen;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (e.dtype !== 'F32') throw new Error(`${path}: tensor '${name}' has dtype ${e.dtype}; only F32 is supported`);
    const [start, end] = e.data_offsets;
    if (base + end > buf.length)
      throw new Error(`${path}: truncated (tensor '${name}' ends at byte ${base + end}, file has ${buf.length})`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (end - start !== n * 4)
      throw new Error(`${path}: tensor '${name}' has ${(end - start) / 4} values for shape ${e.shape.join('×')}`);
    const data = new Float32Array(n);
    Buffer.from(data.buffer).set(buf.subarray(base + start, base + end));
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}
