// Tensor ops: batch layout (concat/split/take), channel slicing, broadcasting and exact masked selection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/engine/random.js';
import {
  axpby,
  chunk,
  concat,
  concatChannels,
  randn,
  resizeBilinear,
  sliceChannels,
  split,
  stats,
  takeBatch,
  tensor,
  where,
} from '../../src/engine/tensor.js';

test('concat, split and takeBatch keep rows intact', () => {
  const a = tensor([1, 1, 1, 2], Float32Array.of(1, 2));
  const b = tensor([2, 1, 1, 2], Float32Array.of(3, 4, 5, 6));
  const ab = concat([a, b]);
  assert.deepEqual([...ab.data], [1, 2, 3, 4, 5, 6]);
  const [x, y] = split(ab, [2, 1]);
  assert.deepEqual([...x!.data], [1, 2, 3, 4]);
  assert.deepEqual([...y!.data], [5, 6]);
  assert.deepEqual([...takeBatch(ab, [2, 0, 2]).data], [5, 6, 1, 2, 5, 6]);
  assert.equal(chunk(ab, 3).length, 3);
  assert.throws(() => chunk(ab, 2), /does not split into 2/);
  assert.throws(() => takeBatch(ab, [3]), /row 3 out of range/);
});

test('channel slice and concat invert each other', () => {
  const x = randn([2, 6, 3, 3], new Rng(1));
  const back = concatChannels([sliceChannels(x, 0, 3), sliceChannels(x, 3, 6)]);
  assert.deepEqual(back.data, x.data);
});

test('where selects exactly with a broadcast hard mask', () => {
  const a = randn([2, 3, 2, 2], new Rng(2));
  const b = randn([2, 3, 2, 2], new Rng(3));
  const m = tensor([1, 1, 2, 2], Float32Array.of(1, 0, 0, 1));
  const out = where(m, a, b);
  for (let i = 0; i < out.data.length; i++) {
    assert.equal(out.data[i], i % 4 === 0 || i % 4 === 3 ? a.data[i] : b.data[i]);
  }
  assert.throws(() => where(tensor([1, 1, 3, 2]), a, b), /cannot broadcast/);
});

test('axpby rejects mismatched shapes; randn is standard normal', () => {
  assert.throws(() => axpby(1, tensor([1, 1, 2, 2]), 1, tensor([1, 1, 2, 3])), /same shape/);
  const { mean, variance } = stats(randn([1, 1, 200, 200], new Rng(4)));
  assert.ok(Math.abs(mean) < 0.01 && Math.abs(variance - 1) < 0.02, `${mean} ${variance}`);
});

test('bilinear resize with aligned corners keeps corners and constants', () => {
  const x = tensor([1, 1, 2, 2], Float32Array.of(0, 1, 2, 3));
  const y = resizeBilinear(x, 4, 4);
  assert.deepEqual([y.data[0], y.data[3], y.data[12], y.data[15]], [0, 1, 2, 3]);
  assert.ok(Math.abs(y.data[5]! - 1) < 1e-6);
});
