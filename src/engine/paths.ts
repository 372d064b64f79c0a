// Where the project's own files live (committed models), independent of the working directory,
// with ILLUSIONIST_MODELS to point elsewhere (a volume in production).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder holding package.json (works from src/ under tsx and from dist/src/). */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the project root (no package.json above the engine)');
    dir = up;
  }
  root = dir;
  return dir;
}

export function modelsDir(): string {
  return process.env.ILLUSIONIST_MODELS ? resolve(process.env.ILLUSIONIST_MODELS) : join(projectRoot(), 'models');
}
