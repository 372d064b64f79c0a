// Chooses the training data: the embedded digits by default, the official IDX files with --data.
import type { Dataset } from './dataset.js';
import { loadEmbeddedMnist } from './mnist.js';
import { loadIdxDataset } from './idx.js';

export function loadDataset(dir: string | null): Dataset {
  return dir === null ? loadEmbeddedMnist() : loadIdxDataset(dir, 'train');
}
