// The WebGPU training engine: onnxruntime's WebGPU provider (Dawn on Vulkan; Mesa's software
// lavapipe on CI, a GPU's driver elsewhere) runs the project's gradient graph and takes the same
// Adam steps as the CPU engine, for every model kind; a run trained on it says so in its card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrainEngine, type StepBatch } from '../../../src/engine/flow/train-engine.js';
import { initialWeights, NUM_CLASSES, UNET_KINDS, type UNetSpec } from '../../../src/engine/flow/unet.js';
import { defaultSettings, machineDescription, train, type RunRecord } from '../../../src/engine/flow/trainer.js';
import { exportModel } from '../../../src/engine/flow/model-card.js';
import { Rng } from '../../../src/engine/random.js';
import { mnistSlice } from '../../helpers/tiny-mnist.js';

function randomBatch(rng: Rng, B: number): StepBatch {
  const c = new Float32Array(B * NUM_CLASSES);
  for (let i = 0; i < B; i++) if (i % 4 !== 0) c[i * NUM_CLASSES + rng.int(NUM_CLASSES)] = 1; // every 4th row: the null class
  return {
    x: rng.normals(B * 784),
    target: rng.normals(B * 784),
    t: Float32Array.from({ length: B }, () => rng.uniform()),
    c,
  };
}

for (const kind of UNET_KINDS) {
  test(`the WebGPU engine takes the same Adam steps as the CPU engine: losses, weights, BatchNorm statistics (${kind})`, async () => {
    const spec: UNetSpec = { kind, hidden: 4 };
    const B = 8;
    const start = initialWeights(spec, 3);
    const cpu = await createTrainEngine('onnxruntime', { spec, batch: B, weights: start });
    const gpu = await createTrainEngine('webgpu', { spec, batch: B, weights: start });
    try {
      assert.equal(gpu.backend, 'webgpu');
      assert.match(gpu.description, /WebGPU/);
      const rng = new Rng(11);
      for (let s = 0; s < 3; s++) {
        const batch = randomBatch(rng, B);
        const a = await cpu.step(batch, 1e-2);
        const b = await gpu.step(batch, 1e-2);
        assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(a)), `step ${s}: loss ${a} on CPU, ${b} on WebGPU`);
      }
      const wa = await cpu.weights();
      const wb = await gpu.weights();
      let moved = 0;
      for (const [name, a] of wa) {
        const b = wb.get(name)!;
        const s0 = start.get(name)!;
        for (let i = 0; i < a.length; i++) {
          assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4, `${name}[${i}]: ${a[i]} on CPU, ${b[i]} on WebGPU`);
          if (a[i] !== s0[i]) moved++;
        }
      }
      assert.ok(moved > 1000, `the steps changed ${moved} values`);
      assert.equal((await gpu.adamState()).iterations, 3);
    } finally {
      await cpu.dispose();
      await gpu.dispose();
    }
  });
}

test('a run trained on WebGPU records the engine and the machine, and its card gives --backend webgpu', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-webgpu-'));
  const out = await train({
    settings: { ...defaultSettings('time'), hidden: 4, batch: 16, epochs: 1, seed: 2 },
    dataset: mnistSlice(48),
    runDir: dir,
    backend: 'webgpu',
  });
  assert.equal(out.run.losses.length, 3);
  assert.ok(out.run.losses.every(Number.isFinite));
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  assert.equal(record.backend, "onnxruntime (WebGPU, the project's gradient graph)");
  assert.equal(record.machine, machineDescription());
  assert.match(record.machine!, /^\d+-core CPU/);
  const models = mkdtempSync(join(tmpdir(), 'illusionist-models-'));
  const exported = await exportModel(dir, join(models, 'mnist-time'), {
    name: 'mnist-time',
    samplesPng: Buffer.alloc(0),
    samplesCommand: '-',
    samplesSeconds: 0,
  });
  const card = readFileSync(exported.card, 'utf8');
  assert.match(
    card,
    /illusionist train --kind time --hidden 4 --epochs 1 --batch 16 --lr 0\.01 --backend webgpu --seed 2/,
  );
  assert.match(card, /\| backend \| onnxruntime \(WebGPU, the project's gradient graph\) \|/);
  assert.ok(card.includes(`| machine | ${machineDescription()} |`), card);
});
