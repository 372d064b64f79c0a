// The UNet's closed-form GELU and BatchNorm gradients (tf.customGrad) against TensorFlow.js
// autodiff of the same forward ops, on several shapes and on the whole model: the forward values
// must be bit-identical and the gradients equal to rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initTf, tf } from '../../../src/engine/runtime/tf.js';
import {
  UNet,
  initialWeights,
  geluOp,
  batchNormTrainingOp,
  unetGradients,
  NUM_CLASSES,
  type BnUpdate,
} from '../../../src/engine/flow/unet.js';

function withMode<T>(closedForm: boolean, f: () => T): T {
  const before = unetGradients.closedForm;
  unetGradients.closedForm = closedForm;
  try {
    return f();
  } finally {
    unetGradients.closedForm = before;
  }
}

/** max |a − b| / max(1, max |b|) */
function relDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let s = 1;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

const read = (ts: tf.Tensor[]): Float32Array[] => ts.map((t) => t.dataSync() as Float32Array);

for (const backend of ['wasm', 'cpu']) {
  for (const shape of [
    [3, 5],
    [2, 4, 4, 3],
    [4, 7, 7, 6],
  ]) {
    test(`GELU closed-form gradient matches autodiff on ${backend}, shape ${shape.join('×')}`, async () => {
      await initTf('wasm');
      assert.ok(await tf.setBackend(backend));
      const [closed, auto] = [true, false].map((mode) =>
        withMode(mode, () =>
          tf.tidy(() => {
            const x = tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 11), 3); // covers the tails
            const dy = tf.randomNormal(shape, 0, 1, 'float32', 12);
            const y = geluOp(tf, x);
            const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(geluOp(tf, a), dy)))(x);
            return read([y, dx]);
          }),
        ),
      );
      assert.deepEqual(closed![0], auto![0], 'forward values identical');
      assert.ok(relDiff(closed![1]!, auto![1]!) < 1e-5, `dx differs by ${relDiff(closed![1]!, auto![1]!)}`);
    });
  }

  for (const shape of [
    [2, 4, 4, 3],
    [4, 7, 7, 6],
    [5, 1, 1, 2],
    [3, 14, 14, 8],
  ] as Array<[number, number, number, number]>) {
    test(`BatchNorm (batch statistics) closed-form gradients match autodiff on ${backend}, shape ${shape.join('×')}`, async () => {
      await initTf('wasm');
      assert.ok(await tf.setBackend(backend));
      const c = shape[3];
      const [closed, auto] = [true, false].map((mode) =>
        withMode(mode, () =>
          tf.tidy(() => {
            const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', 21), 2), 0.7) as tf.Tensor4D;
            const g = tf.randomNormal([c], 1, 0.5, 'float32', 22);
            const b = tf.randomNormal([c], 0, 0.5, 'float32', 23);
            const dy = tf.randomNormal(shape, 0, 1, 'float32', 24);
            const stats: tf.Tensor[] = [];
            const y = batchNormTrainingOp(tf, x, g, b, (m, v) => stats.push(tf.keep(m.clone()), tf.keep(v.clone())));
            const grads = tf.grads((a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
              tf.sum(tf.mul(batchNormTrainingOp(tf, a as tf.Tensor4D, gg, bb), dy)),
            )([x, g, b]);
            const out = read([y, ...stats, ...grads]);
            stats.forEach((t) => {
              t.dispose();
            });
            return out;
          }),
        ),
      );
      for (let i = 0; i < 3; i++)
        assert.deepEqual(closed![i], auto![i], `forward output ${i} (value, mean, variance) identical`);
      ['dz', 'dγ', 'dβ'].forEach((name, i) => {
        const d = relDiff(closed![3 + i]!, auto![3 + i]!);
        assert.ok(d < 1e-4, `${name} differs by ${d}`);
      });
    });
  }
}

test('whole class UNet: closed-form and autodiff give the same output, BatchNorm statistics and gradients', async () => {
  await initTf('wasm');
  assert.ok(await tf.setBackend('wasm'));
  const spec = { kind: 'class' as const, hidden: 4 };
  const net = new UNet(tf, spec, initialWeights(spec, 3));
  const B = 3;
  const run = (closedForm: boolean): Float32Array[] =>
    withMode(closedForm, () =>
      tf.tidy(() => {
        const x = tf.randomNormal([B, 28, 28, 1], 0, 1, 'float32', 31) as tf.Tensor4D;
        const t = tf.randomUniform([B, 1], 0, 1, 'float32', 32) as tf.Tensor2D;
        const c = tf.oneHot([1, 7, 3], NUM_CLASSES).toFloat() as tf.Tensor2D;
        const r = tf.randomNormal([B, 28, 28, 1], 0, 1, 'float32', 33);
        const updates: BnUpdate[] = [];
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.mul(net.forward(x, { t, c, training: true, bnUpdates: updates }), r)) as tf.Scalar,
          net.trainableVariables(),
        );
        const stats = updates.flatMap((u) => [u.mean, u.variance]);
        const out = read([value, ...stats, ...net.trainableVariables().map((v) => grads[v.name]!)]);
        stats.forEach((s) => {
          s.dispose();
        });
        return out;
      }),
    );
  const closed = run(true);
  const auto = run(false);
  assert.equal(closed.length, auto.length);
  const nStats = 2 * 17;
  for (let i = 0; i <= nStats; i++)
    assert.deepEqual(closed[i], auto[i], `forward value / BatchNorm statistic ${i} identical`);
  const names = net.trainableVariables().map((v) => v.name);
  for (let i = nStats + 1; i < closed.length; i++) {
    const d = relDiff(closed[i]!, auto[i]!);
    assert.ok(d < 1e-4, `gradient of ${names[i - nStats - 1]} differs by ${d}`);
  }
  net.dispose();
});
