// ONNX exports of checkpoints kept on disk (DATA_DIR/cache/onnx), so loading a model does not
// rebuild its graph every time: the export and the protobuf library it needs took 0.5 s of the
// class model's start (1 s for the time model and its guide). The key is the checkpoint's bytes and
// the code that reads and exports them, so a changed checkpoint or code makes a new file, never a stale model.
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Exports kept at most; the least recently written go first. */
export const MAX_CACHED_EXPORTS = 16;

/**
 * The modules whose code decides the exported graph from a checkpoint's bytes: the exporter, and the
 * reader that picks the weights it serves (trainer.js's loadCheckpoint: the EMA average where there is one).
 */
const EXPORTER_FILES = [
  './onnx-export.js',
  './unet.js',
  './flow-io.js',
  '../onnx/graph-builder.js',
  '../onnx/phase-conv.js',
  './trainer.js',
  './safetensors.js',
];

let exporterHash: string | null | undefined;

/** A hash of the exporter's code, or null where it cannot be read (run from sources by a loader). */
function exporterVersion(): string | null {
  if (exporterHash !== undefined) return exporterHash;
  try {
    const h = createHash('sha256');
    for (const f of EXPORTER_FILES) h.update(readFileSync(fileURLToPath(new URL(f, import.meta.url))));
    exporterHash = h.digest('hex');
  } catch {
    exporterHash = null;
  }
  return exporterHash;
}

/** Where the export of this checkpoint's bytes lives in `dir`, or undefined when exports cannot be cached. */
export function exportPath(dir: string, checkpoint: Uint8Array): string | undefined {
  const version = exporterVersion();
  if (version === null) return undefined;
  const key = createHash('sha256').update(checkpoint).update(version).digest('hex');
  return join(dir, `${key}.onnx`);
}

export function readExport(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Keeps `bytes` at `path` (written aside and renamed, so a reader sees a whole file or none) and
 * trims the folder to MAX_CACHED_EXPORTS. A cache that cannot be written (read-only or full disk)
 * only costs the next load its export again.
 */
export function writeExport(path: string, bytes: Uint8Array): void {
  const dir = join(path, '..');
  const temp = `${path}.${process.pid}-${randomUUID()}.partial`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, bytes);
    renameSync(temp, path);
    const kept = readdirSync(dir)
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    for (const { f } of kept.slice(MAX_CACHED_EXPORTS)) rmSync(join(dir, f), { force: true });
  } catch {
    rmSync(temp, { force: true });
  }
}
