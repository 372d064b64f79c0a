// A real store on a real SQLite file in a temporary folder, closed when the test ends.
import path from 'node:path';
import type { TestContext } from 'node:test';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { makeTempDir } from './temp-dir.js';

export function openTestStore(t: TestContext, options: StoreOptions = {}): Store {
  const store = openStore(path.join(makeTempDir(t), 'illusionist.db'), options);
  t.after(() => store.close());
  return store;
}
