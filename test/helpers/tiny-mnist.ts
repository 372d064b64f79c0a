// The one tiny MNIST fixture: a class-spread slice of the embedded digits and flow checkpoints
// trained on it in the test process (D = 4 or less, 1 epoch, a few seconds on wasm).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spreadSubset, type Dataset } from '../../src/engine/data/dataset.js';
import { loadEmbeddedMnist } from '../../src/engine/data/mnist.js';
import { defaultSettings, latestCheckpoint, train } from '../../src/engine/flow/trainer.js';
import type { UNetKind } from '../../src/engine/flow/unet.js';

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

const trained = new Map<string, Promise<TinyRun>>();

/** A tiny model of `kind` and hidden size `hidden` trained on `digits` digits, once per process. */
export function tinyRun(kind: UNetKind, hidden = 4, digits = 64): Promise<TinyRun> {
  const key = `${kind}:${hidden}:${digits}`;
  let run = trained.get(key);
  if (!run) {
    run = (async () => {
      const runDir = mkdtempSync(join(tmpdir(), `illusionist-tiny-${kind}-`));
      await train({
        settings: { ...defaultSettings(kind), hidden, batch: 16, epochs: 1 },
        dataset: mnistSlice(digits),
        runDir,
        backend: 'wasm',
      });
      return { runDir, checkpoint: latestCheckpoint(runDir)! };
    })();
    trained.set(key, run);
  }
  return run;
}

/** A tiny class model trained on `digits` digits, once per process and size. */
export function tinyClassRun(digits = 64): Promise<TinyRun> {
  return tinyRun('class', 4, digits);
}

/** Path of the 64-digit checkpoint file. */
export async function tinyClassCheckpoint(): Promise<string> {
  return (await tinyClassRun()).checkpoint;
}
