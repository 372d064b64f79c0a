// The ONNX export computes the same function as the TensorFlow.js UNet (eval mode) for every
// model kind, on random inputs and non-trivial BatchNorm statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf, tf } from '../../../src/engine/runtime/tf.js';
import {
  UNet,
  initialWeights,
  paramInfos,
  UNET_KINDS,
  NUM_CLASSES,
  type UNetSpec,
} from '../../../src/engine/flow/unet.js';
import { loadOnnxFlowModel } from '../../../src/engine/flow/onnx-flow-model.js';
import { Rng } from '../../../src/engine/random.js';

/** Initial weights with BatchNorm running stats and affine params moved away from 0/1, so folding matters. */
function perturbedWeights(spec: UNetSpec, seed: number): Map<string, Float32Array> {
  const w = initialWeights(spec, seed);
  const rng = new Rng(seed + 1);
  for (const p of paramInfos(spec)) {
    const a = w.get(p.name)!;
    if (/\.(mean|beta)$/.test(p.name)) for (let i = 0; i < a.length; i++) a[i] = 0.3 * rng.normal();
    if (/\.(var|gamma)$/.test(p.name)) for (let i = 0; i < a.length; i++) a[i] = 0.5 + rng.uniform();
    if (/\.b$/.test(p.name)) for (let i = 0; i < a.length; i++) a[i] = 0.1 * rng.normal();
  }
  return w;
}

for (const kind of UNET_KINDS) {
  test(`ONNX export of the ${kind} UNet matches TensorFlow.js on random inputs`, async () => {
    await initTf('wasm');
    const spec: UNetSpec = { kind, hidden: 8 };
    const weights = perturbedWeights(spec, 7);
    const net = new UNet(tf, spec, weights);
    const B = 5;
    const rng = new Rng(3);
    const x = rng.normals(B * 784);
    const t = Float32Array.from({ length: B }, () => rng.uniform());
    const classes = Int32Array.from([3, -1, 0, 9, 5]);
    const oneHot = new Float32Array(B * NUM_CLASSES);
    classes.forEach((c, i) => {
      if (c >= 0) oneHot[i * NUM_CLASSES + c] = 1;
    });
    const ref = tf.tidy(() =>
      net.forward(tf.tensor4d(x, [B, 28, 28, 1]), {
        t: kind === 'denoiser' ? undefined : tf.tensor2d(t, [B, 1]),
        c: kind === 'class' ? tf.tensor2d(oneHot, [B, NUM_CLASSES]) : undefined,
        training: false,
      }),
    );
    const expected = (await ref.data()) as Float32Array;
    ref.dispose();
    net.dispose();
    const model = await loadOnnxFlowModel(spec, weights);
    const got = await model.velocity(x, t, classes, B);
    await model.dispose();
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < expected.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(expected[i]! - got[i]!));
      maxRef = Math.max(maxRef, Math.abs(expected[i]!));
    }
    console.log(`${kind}: max |onnx − tfjs| = ${maxDiff.toExponential(2)} (max |output| ${maxRef.toFixed(3)})`);
    assert.ok(maxRef > 0.01, 'output is not trivially zero');
    assert.ok(maxDiff < 1e-4, `max abs difference ${maxDiff}`);
  });
}
