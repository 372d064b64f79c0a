// Temporary folders for tests that need real files (SQLite databases, artifacts),
// removed when the test ends so runs do not leak into /tmp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export function makeTempDir(t: TestContext, prefix = 'illusionist-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
