// The onnxruntime training step (the project's own gradient graph) computes the same loss,
// parameter gradients and BatchNorm batch statistics as TensorFlow.js autodiff of the same UNet,
// for every model kind; and the plain-array Adam takes the same steps as tf.train.adam.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf, tf } from '../../../src/engine/runtime/tf.js';
import { OnnxSession, type Feed } from '../../../src/engine/runtime/onnx.js';
import {
  UNet,
  initialWeights,
  paramInfos,
  UNET_KINDS,
  NUM_CLASSES,
  type BnUpdate,
  type UNetSpec,
} from '../../../src/engine/flow/unet.js';
import {
  buildTrainStepGraph,
  bnMeanName,
  bnVarName,
  gradName,
  STEP_INPUTS,
  STEP_LOSS,
} from '../../../src/engine/flow/onnx-train.js';
import { Adam } from '../../../src/engine/flow/adam.js';
import { Rng } from '../../../src/engine/random.js';

/** ‖a − b‖ / ‖b‖ (or ‖a − b‖ when b is zero). */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return den > 0 ? Math.sqrt(num / den) : Math.sqrt(num);
}

function weightsWithNonTrivialAffine(spec: UNetSpec, seed: number): Map<string, Float32Array> {
  const w = initialWeights(spec, seed);
  const rng = new Rng(seed + 1);
  for (const p of paramInfos(spec)) {
    const a = w.get(p.name)!;
    if (/\.(gamma)$/.test(p.name)) for (let i = 0; i < a.length; i++) a[i] = 0.5 + rng.uniform();
    if (/\.(beta|b)$/.test(p.name)) for (let i = 0; i < a.length; i++) a[i] = 0.2 * rng.normal();
  }
  return w;
}

for (const kind of UNET_KINDS) {
  test(`onnxruntime training step matches TensorFlow.js autodiff: loss, every gradient, BatchNorm statistics (${kind})`, async () => {
    await initTf('wasm');
    const spec: UNetSpec = { kind, hidden: 4 };
    const B = 3;
    const weights = weightsWithNonTrivialAffine(spec, 11);
    const rng = new Rng(5);
    const x = rng.normals(B * 784);
    const target = rng.normals(B * 784);
    const t = Float32Array.from({ length: B }, () => rng.uniform());
    const c = new Float32Array(B * NUM_CLASSES);
    c[0 * NUM_CLASSES + 7] = 1; // row 1 is the null class
    c[2 * NUM_CLASSES + 2] = 1;

    const net = new UNet(tf, spec, weights);
    const updates: BnUpdate[] = [];
    const vars = net.trainableVariables();
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const out = net.forward(tf.tensor4d(x, [B, 28, 28, 1]), {
            t: kind === 'denoiser' ? undefined : tf.tensor2d(t, [B, 1]),
            c: kind === 'class' ? tf.tensor2d(c, [B, NUM_CLASSES]) : undefined,
            training: true,
            bnUpdates: updates,
          });
          return tf.mean(tf.squaredDifference(out, tf.tensor4d(target, [B, 28, 28, 1]))) as tf.Scalar;
        }),
      vars,
    );
    const refLoss = (await value.data())[0]!;
    const trainable = paramInfos(spec).filter((p) => p.trainable);
    const refGrads = new Map<string, Float32Array>();
    for (let i = 0; i < trainable.length; i++)
      refGrads.set(trainable[i]!.name, (await grads[vars[i]!.name]!.data()) as Float32Array);
    const refStats = new Map<string, [Float32Array, Float32Array, number]>();
    for (const u of updates)
      refStats.set(u.name, [(await u.mean.data()) as Float32Array, (await u.variance.data()) as Float32Array, u.count]);
    value.dispose();
    Object.values(grads).forEach((g) => {
      g.dispose();
    });
    updates.forEach((u) => {
      u.mean.dispose();
      u.variance.dispose();
    });
    net.dispose();

    const graph = buildTrainStepGraph(spec, B);
    const session = await OnnxSession.load('train-step', graph.bytes, { log: () => {} });
    const feeds: Record<string, Feed> = {
      [STEP_INPUTS.x]: { type: 'float32', dims: [B, 1, 28, 28], data: x },
      [STEP_INPUTS.target]: { type: 'float32', dims: [B, 1, 28, 28], data: target },
    };
    if (kind !== 'denoiser') feeds[STEP_INPUTS.t] = { type: 'float32', dims: [B, 1], data: t };
    if (kind === 'class') feeds[STEP_INPUTS.c] = { type: 'float32', dims: [B, NUM_CLASSES], data: c };
    for (const p of trainable) feeds[p.name] = { type: 'float32', dims: p.shape, data: weights.get(p.name)! };
    const out = await session.run(feeds);
    await session.dispose();

    const loss = (out[STEP_LOSS]!.data as Float32Array)[0]!;
    assert.ok(Math.abs(loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${loss} vs ${refLoss}`);
    assert.deepEqual(
      graph.params,
      trainable.map((p) => p.name),
    );
    let worst = 0;
    for (const p of trainable) {
      const d = relDiff(out[gradName(p.name)]!.data as Float32Array, refGrads.get(p.name)!);
      worst = Math.max(worst, d);
      assert.ok(d < 1e-3, `gradient of ${p.name} differs by ${d}`);
    }
    assert.equal(graph.bnLayers.length, refStats.size);
    for (const { name, count } of graph.bnLayers) {
      const [mean, variance, refCount] = refStats.get(name)!;
      assert.equal(count, refCount, `element count of ${name}`);
      assert.ok(relDiff(out[bnMeanName(name)]!.data as Float32Array, mean) < 1e-4, `batch mean of ${name}`);
      assert.ok(relDiff(out[bnVarName(name)]!.data as Float32Array, variance) < 1e-4, `batch variance of ${name}`);
    }
    console.log(
      `${kind}: loss ${loss.toFixed(6)} vs ${refLoss.toFixed(6)}; worst relative gradient difference ${worst.toExponential(2)} over ${trainable.length} tensors`,
    );
  });
}

test('plain-array Adam takes the same steps as tf.train.adam, including after restoring its state', async () => {
  await initTf('wasm');
  const rng = new Rng(2);
  const n = 50;
  const w0 = rng.normals(n);
  const gradsAt = (step: number): Float32Array =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + step) * (i % 3 === 0 ? 1e-3 : 1));
  const v = tf.variable(tf.tensor1d(w0), true, 'adam-test/w');
  const opt = tf.train.adam(0.01);
  const mine = new Adam();
  const weights = new Map([['w', Float32Array.from(w0)]]);
  for (let s = 0; s < 5; s++) {
    const g = gradsAt(s);
    opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]);
    mine.step(weights, new Map([['w', g]]), 0.01);
  }
  // A second Adam from the saved state goes on identically.
  const resumed = new Adam({
    iterations: mine.state.iterations,
    m: new Map([['w', Float32Array.from(mine.state.m.get('w')!)]]),
    v: new Map([['w', Float32Array.from(mine.state.v.get('w')!)]]),
  });
  const weights2 = new Map([['w', Float32Array.from(weights.get('w')!)]]);
  for (let s = 5; s < 8; s++) {
    const g = gradsAt(s);
    opt.applyGradients([{ name: v.name, tensor: tf.tensor1d(g) }]);
    mine.step(weights, new Map([['w', g]]), 0.01);
    resumed.step(weights2, new Map([['w', g]]), 0.01);
  }
  const ref = (await v.data()) as Float32Array;
  assert.ok(relDiff(weights.get('w')!, ref) < 1e-6, `after 8 steps: ${relDiff(weights.get('w')!, ref)}`);
  assert.deepEqual(weights2.get('w'), weights.get('w'));
  assert.equal(mine.state.iterations, 8);
  v.dispose();
  opt.dispose();
});
