// Finds a Part B checkpoint from what a user types: a committed model name (mnist-class,
// mnist-time, mnist-denoiser), a .safetensors path, or a training run folder (its latest checkpoint).
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { modelsDir } from '../paths.js';
import { latestCheckpoint, loadCheckpoint, type LoadedCheckpoint } from './trainer.js';
import type { UNetKind } from './unet.js';

export const COMMITTED_MODEL_FILE = 'model.safetensors';

export function committedModelName(kind: UNetKind): string {
  return `mnist-${kind}`;
}

/** Committed models present on disk (name → file). */
export function listCommittedModels(): Array<{ name: string; path: string }> {
  const dir = modelsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith('mnist-') && existsSync(join(dir, n, COMMITTED_MODEL_FILE)))
    .map((name) => ({ name, path: join(dir, name, COMMITTED_MODEL_FILE) }));
}

/** A checkpoint that is not there: the user's InputError, naming what can be given instead. */
export class CheckpointNotFoundError extends InputError {
  override name = 'CheckpointNotFoundError';
}

export function resolveCheckpoint(
  ref: string | undefined,
  kind: UNetKind,
): { path: string; checkpoint: LoadedCheckpoint } {
  const name = ref ?? committedModelName(kind);
  let path: string | undefined;
  const committed = join(modelsDir(), name, COMMITTED_MODEL_FILE);
  if (existsSync(committed)) path = committed;
  else if (existsSync(name) && statSync(name).isDirectory()) {
    // A model folder (models/mnist-time) or a training run folder (its latest checkpoint).
    path = existsSync(join(name, COMMITTED_MODEL_FILE)) ? join(name, COMMITTED_MODEL_FILE) : latestCheckpoint(name);
  } else if (existsSync(name)) path = name;
  if (!path) {
    const available = listCommittedModels().map((m) => m.name);
    throw new CheckpointNotFoundError(
      ref === undefined
        ? `no committed ${kind} model at ${committed}; train one with: illusionist train --kind ${kind}`
        : `no checkpoint '${ref}': give a committed model name (${available.join(', ') || 'none installed'}), a .safetensors file or a run folder`,
    );
  }
  const checkpoint = loadCheckpoint(path);
  return { path, checkpoint };
}
