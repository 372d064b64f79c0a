// Every registered view is an orthogonal map (exact inverse, norm and Gaussian statistics kept) at 28 and
// 64 px; negate leaves the variance alone; frames start at the image and end at its view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/engine/random.js';
import { mse, norm, randn, resizeNearest, stats, tensor } from '../../../src/engine/tensor.js';
import { patchSizeFor } from '../../../src/engine/views/patch-permute.js';
import { VIEW_NAMES, createView } from '../../../src/engine/views/registry.js';
import { skewShifts } from '../../../src/engine/views/skew.js';

for (const size of [28, 64]) {
  for (const name of VIEW_NAMES) {
    test(`${name} at ${size} px is orthogonal`, () => {
      const v = createView(name, { height: size, width: size });
      const x = randn([2, 3, size, size], new Rng(size));
      const y = v.view(x);
      assert.deepEqual(v.inverseView(y).data, x.data);
      assert.ok(Math.abs(norm(y) - norm(x)) < 1e-3 * norm(x));
      const a = stats(x),
        b = stats(y);
      assert.ok(Math.abs(Math.abs(a.mean) - Math.abs(b.mean)) < 1e-6 && Math.abs(a.variance - b.variance) < 1e-5);
      if (name !== 'identity') assert.ok(mse(y, x) > 0.1, `${name} should change the image`);
      const f0 = v.frame!(x, 0);
      assert.ok(mse(f0, x) < 1e-9, 'frame(0) is the image');
      if (
        !['negate', 'identity'].includes(name) &&
        !name.startsWith('rotate') &&
        name !== 'flip' &&
        name !== 'inner_circle'
      ) {
        assert.deepEqual(v.frame!(x, 1).data, y.data, 'frame(1) is the view');
      }
    });
  }
}

test('negate flips ε but not the variance; rotations compose to identity', () => {
  const x = randn([1, 3, 8, 8], new Rng(1));
  const neg = createView('negate', { height: 8, width: 8 });
  assert.deepEqual(neg.inverseVariance!(x).data, x.data);
  const cw = createView('rotate_cw', { height: 8, width: 8 });
  const ccw = createView('rotate_ccw', { height: 8, width: 8 });
  assert.deepEqual(cw.view(cw.view(cw.view(cw.view(x)))).data, x.data);
  assert.deepEqual(ccw.view(cw.view(x)).data, x.data);
  const flip = createView('flip', { height: 8, width: 8 });
  assert.deepEqual(flip.view(x).data, cw.view(cw.view(x)).data);
  assert.ok(mse(flip.frame!(x, 1), flip.view(x)) < 1e-9);
});

test("skew uses the write-up's shifts; patch sizes scale; unknown views list the allowed ones", () => {
  assert.deepEqual([...skewShifts(5, 2)], [-2, -1, 0, 1, 2]);
  assert.equal(patchSizeFor(64), 8);
  assert.equal(patchSizeFor(28), 4);
  assert.equal(patchSizeFor(256), 32);
  assert.throws(
    () => createView('blur', { height: 8, width: 8 }),
    /unknown view "blur"; allowed: identity, flip, rotate_cw, rotate_ccw, negate, skew, patch_permute, pixel_permute, inner_circle, jigsaw, flip_vertical/,
  );
  assert.throws(() => createView('rotate_cw', { height: 8, width: 4 }), /square image/);
});

test('pixel_permute at 256 px moves 4×4 blocks in the order of the 64 px permutation (visual_anagrams)', () => {
  const small = createView('pixel_permute', { height: 64, width: 64 });
  const large = createView('pixel_permute', { height: 256, width: 256 });
  // An image whose 4×4 blocks are constant: the 256 px view, pooled back to 64 px, is the 64 px view.
  const x64 = randn([1, 3, 64, 64], new Rng(9));
  const up = resizeNearest(x64, 256, 256);
  assert.deepEqual(large.view(up).data, resizeNearest(small.view(x64), 256, 256).data);
  // Each 4×4 block comes whole from one source block, its pixels in place: view an image of indices.
  const index = tensor(
    [1, 1, 256, 256],
    Float32Array.from({ length: 256 * 256 }, (_, i) => i),
  );
  const y = large.view(index);
  assert.deepEqual(large.inverseView(y).data, index.data);
  for (let p = 0; p < 256 * 256; p++) {
    const src = y.data[p]!;
    const blockStart = y.data[(Math.floor(p / 256) - (Math.floor(p / 256) % 4)) * 256 + (p % 256) - ((p % 256) % 4)]!;
    assert.equal(
      src - blockStart,
      (Math.floor(p / 256) % 4) * 256 + ((p % 256) % 4),
      `pixel ${p} keeps its place in the block`,
    );
    assert.equal(blockStart % 4, 0);
    assert.equal(Math.floor(blockStart / 256) % 4, 0);
  }
  assert.throws(
    () => createView('pixel_permute', { height: 200, width: 200 }),
    /sides must be multiples of 64, got 200×200/,
  );
});
