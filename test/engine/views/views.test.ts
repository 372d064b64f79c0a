// Every registered view is an orthogonal map (exact inverse, norm and Gaussian statistics kept) at 28 and
// 64 px; negate leaves the variance alone; frames start at the image and end at its view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/engine/random.js';
import { mse, norm, randn, stats } from '../../../src/engine/tensor.js';
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
      const a = stats(x), b = stats(y);
      assert.ok(Math.abs(Math.abs(a.mean) - Math.abs(b.mean)) < 1e-6 && Math.abs(a.variance - b.variance) < 1e-5);
      if (name !== 'identity') assert.ok(mse(y, x) > 0.1, `${name} should change the image`);
      const f0 = v.frame!(x, 0);
      assert.ok(mse(f0, x) < 1e-9, 'frame(0) is the image');
      if (!['negate', 'identity'].includes(name) && !name.startsWith('rotate') && name !== 'flip' && name !== 'inner_circle') {
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

test('skew uses the seed shifts; patch sizes scale; unknown views list the allowed ones', () => {
  assert.deepEqual([...skewShifts(5, 2)], [-2, -1, 0, 1, 2]);
  assert.equal(patchSizeFor(64), 8);
  assert.equal(patchSizeFor(28), 4);
  assert.equal(patchSizeFor(256), 32);
  assert.throws(() => createView('blur', { height: 8, width: 8 }), /unknown view "blur"; allowed: identity, flip, rotate_cw, rotate_ccw, negate, skew, patch_permute, pixel_permute, inner_circle, jigsaw, flip_vertical/);
  assert.throws(() => createView('rotate_cw', { height: 8, width: 4 }), /square image/);
});
