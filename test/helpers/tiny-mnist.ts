// A tiny class-conditioned MNIST flow checkpoint trained in the test process (D = 4, 1 epoch,
// 64 digits, a few seconds on the wasm backend), so the bot's tests need no committed model.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedMnist } from '../../src/engine/data/mnist.js';
import { defaultSettings, latestCheckpoint, train } from '../../src/engine/flow/trainer.js';

let trained: Promise<string> | undefined;

/** Path of the checkpoint file (trained once per process). */
export function tinyClassCheckpoint(): Promise<string> {
  trained ??= (async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'illusionist-tiny-mnist-'));
    const d = loadEmbeddedMnist();
    const n = 64;
    const images = new Float32Array(n * 784);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const src = Math.floor((i * d.count) / n);
      images.set(d.images.subarray(src * 784, (src + 1) * 784), i * 784);
      labels[i] = d.labels[src]!;
    }
    await train({ settings: { ...defaultSettings('class'), hidden: 4, batch: 16, epochs: 1 }, dataset: { images, labels, count: n, source: 'slice' }, runDir, backend: 'wasm' });
    return latestCheckpoint(runDir)!;
  })();
  return trained;
}
