// The one tiny MNIST fixture: a class-spread slice of the embedded digits and a class-conditioned
// flow checkpoint trained on it in the test process (D = 4, 1 epoch, a few seconds on wasm).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spreadSubset, type Dataset } from '../../src/engine/data/dataset.js';
import { loadEmbeddedMnist } from '../../src/engine/data/mnist.js';
import { defaultSettings, latestCheckpoint, train } from '../../src/engine/flow/trainer.js';

/** `n` digits spread evenly over the embedded set, so every class is present. */
export function mnistSlice(n: number): Dataset {
  return spreadSubset(loadEmbeddedMnist(), n);
}

export interface TinyRun {
  /** The training run folder (what --checkpoint accepts). */
  readonly runDir: string;
  /** Its last checkpoint file. */
  readonly checkpoint: string;
}

const trained = new Map<number, Promise<TinyRun>>();

/** A tiny class model trained on `digits` digits, once per process and size. */
export function tinyClassRun(digits = 64): Promise<TinyRun> {
  let run = trained.get(digits);
  if (!run) {
    run = (async () => {
      const runDir = mkdtempSync(join(tmpdir(), 'illusionist-tiny-mnist-'));
      await train({ settings: { ...defaultSettings('class'), hidden: 4, batch: 16, epochs: 1 }, dataset: mnistSlice(digits), runDir, backend: 'wasm' });
      return { runDir, checkpoint: latestCheckpoint(runDir)! };
    })();
    trained.set(digits, run);
  }
  return run;
}

/** Path of the 64-digit checkpoint file. */
export async function tinyClassCheckpoint(): Promise<string> {
  return (await tinyClassRun()).checkpoint;
}
