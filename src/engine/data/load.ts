// Chooses the training data: the embedded digits by default, the official IDX files with --data.
import type { Dataset } from './dataset.js';
import { loadEmbeddedMnist } from './mnist.js';

export function loadDataset(dir: string | null): Dataset {
  if (dir === null) return loadEmbeddedMnist();
  throw new Error('IDX data sets are not wired yet'); // replaced when the IDX reader lands
}
