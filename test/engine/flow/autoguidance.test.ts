// Autoguidance on real tiny time models served by onnxruntime: the blend is g + w (u − g) of the
// two models' own velocities, w = 1 is the model alone, and the guide is found beside a model file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { autoguided, guideBeside, GUIDE_FILE } from '../../../src/engine/flow/autoguidance.js';
import { eulerSample } from '../../../src/engine/flow/euler.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../../../src/engine/flow/onnx-flow-model.js';
import { loadCheckpoint } from '../../../src/engine/flow/trainer.js';
import { Rng } from '../../../src/engine/random.js';
import { tinyRun } from '../../helpers/tiny-mnist.js';
import { maxAbsDiff } from '../../helpers/arrays.js';

async function served(checkpoint: string): Promise<OnnxFlowModel> {
  const ck = loadCheckpoint(checkpoint);
  return loadOnnxFlowModel(ck.spec, ck.servingWeights);
}

test('the guided velocity is u_guide + w (u_model − u_guide) of the two models on the same batch', async () => {
  const model = await served((await tinyRun('time', 4)).checkpoint);
  const guide = await served((await tinyRun('time', 2)).checkpoint);
  try {
    const batch = 3;
    const x = new Rng(7).normals(batch * 784);
    const t = Float32Array.from([0, 0.4, 0.9]);
    const classes = new Int32Array(batch).fill(-1);
    const u = await model.velocity(x, t, classes, batch);
    const g = await guide.velocity(x, t, classes, batch);
    assert.ok(maxAbsDiff(u, g) > 1e-3, 'the two tiny models differ, so the blend is visible');
    for (const w of [0, 1, 3]) {
      const blended = await autoguided(model, guide, w).velocity(x, t, classes, batch);
      const expected = u.map((ui, i) => g[i]! + w * (ui - g[i]!));
      assert.ok(maxAbsDiff(blended, expected) < 1e-6, `w = ${w}`);
    }
    assert.ok(
      maxAbsDiff(await autoguided(model, guide, 1).velocity(x, t, classes, batch), u) < 1e-5,
      'w = 1 is the model alone',
    );
    assert.ok(
      maxAbsDiff(await autoguided(model, guide, 0).velocity(x, t, classes, batch), g) < 1e-6,
      'w = 0 is the guide alone',
    );

    // A guided sample is seeded like any other: the same seed gives the same digits, and the guide changes them.
    const guided = autoguided(model, guide, 3);
    const a = await eulerSample(guided, { labels: [null, null], steps: 4, guidance: 1, seed: 5 });
    const b = await eulerSample(guided, { labels: [null, null], steps: 4, guidance: 1, seed: 5 });
    const alone = await eulerSample(model, { labels: [null, null], steps: 4, guidance: 1, seed: 5 });
    assert.deepEqual(a, b);
    assert.ok(maxAbsDiff(a, alone) > 1e-3);
  } finally {
    await model.dispose();
    await guide.dispose();
  }
});

test('autoguidance refuses a class model: it has its own null class to guide against', async () => {
  const time = await served((await tinyRun('time', 2)).checkpoint);
  const cls = await served((await tinyRun('class', 4)).checkpoint);
  try {
    assert.throws(() => autoguided(cls, time, 3), /autoguidance is for unconditional \(time\) models/);
    assert.throws(() => autoguided(time, cls, 3), /autoguidance is for unconditional \(time\) models/);
    assert.throws(() => autoguided(time, time, Number.NaN), /weight must be a finite number/);
  } finally {
    await time.dispose();
    await cls.dispose();
  }
});

test('guideBeside finds guide.safetensors next to a committed model file, and nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-guide-'));
  writeFileSync(join(dir, 'model.safetensors'), '');
  assert.equal(guideBeside(join(dir, 'model.safetensors')), undefined, 'no guide committed');
  writeFileSync(join(dir, GUIDE_FILE), '');
  assert.equal(guideBeside(join(dir, 'model.safetensors')), join(dir, GUIDE_FILE));
  writeFileSync(join(dir, 'checkpoint-epoch-001.safetensors'), '');
  assert.equal(
    guideBeside(join(dir, 'checkpoint-epoch-001.safetensors')),
    undefined,
    'a run checkpoint has no committed guide',
  );
});

test('autoguidance on an interval: rows outside it get the model alone, and the guide is not run when none is inside', async () => {
  const guideCalls: number[] = [];
  const constant = (value: number, calls?: number[]) => ({
    conditional: false,
    async velocity(_x: Float32Array, _t: Float32Array, _c: Int32Array, batch: number) {
      calls?.push(batch);
      return new Float32Array(batch * 784).fill(value);
    },
  });
  const guided = autoguided(constant(1), constant(0, guideCalls), 3, [0.2, 0.5]);
  const u = await guided.velocity(
    new Float32Array(3 * 784),
    Float32Array.from([0.1, 0.2, 0.5]),
    new Int32Array(3).fill(-1),
    3,
  );
  assert.deepEqual([u[0], u[784], u[2 * 784]], [1, 3, 3], 'g + w (u − g) = 3 inside, u = 1 outside');
  assert.deepEqual(guideCalls, [3]);
  const outside = await guided.velocity(new Float32Array(784), Float32Array.from([0.9]), new Int32Array(1).fill(-1), 1);
  assert.equal(outside[0], 1);
  assert.deepEqual(guideCalls, [3], 'no guide call for a batch wholly outside the interval');
  assert.throws(() => autoguided(constant(1), constant(0), 3, [0.5, 0.2]), /0 ≤ lo ≤ hi ≤ 1/);
});
