// Small pure pieces of the technique layer: --steps timesteps, i_start checks, easing, boxes, low-pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stridedTimesteps } from '../../../src/engine/schedules/timesteps.js';
import { easeQuinticInOut, hybridSizes } from '../../../src/engine/techniques/animation.js';
import { InputError } from '../../../src/engine/errors.js';
import { hybridLowPass } from '../../../src/engine/techniques/hybrid.js';
import { modelEntry } from '../../../src/engine/models/registry.js';
import { parseBox } from '../../../src/techniques/inpaint.js';
import { checkIStarts, timestepsForSteps, timestepsFrom } from '../../../src/engine/techniques/timesteps.js';

test("33 steps are exactly the write-up's list; other counts span 990 → 0 evenly", () => {
  assert.deepEqual(timestepsForSteps(33), stridedTimesteps());
  assert.deepEqual(timestepsForSteps(4), [990, 743, 495, 248, 0]);
  assert.deepEqual(timestepsFrom(500, 33).slice(0, 3), [500, 480, 450]);
  assert.throws(() => timestepsForSteps(0), InputError);
});

test('i_start must leave a step to take', () => {
  checkIStarts([0, 32], stridedTimesteps());
  assert.throws(() => checkIStarts([33], stridedTimesteps()), /from 0 to 32/);
});

test('quintic ease runs 0 → 1 symmetrically', () => {
  assert.equal(easeQuinticInOut(0), 0);
  assert.equal(easeQuinticInOut(1), 1);
  assert.ok(Math.abs(easeQuinticInOut(0.5) - 0.5) < 1e-12);
  assert.ok(Math.abs(easeQuinticInOut(0.2) + easeQuinticInOut(0.8) - 1) < 1e-12);
});

test('boxes and hybrid filters', () => {
  assert.deepEqual(parseBox('1, 2,3,4'), { x: 1, y: 2, width: 3, height: 4 });
  assert.throws(() => parseBox('1,2,3'), /four non-negative integers/);
  assert.deepEqual(hybridLowPass(modelEntry('deepfloyd-if')), { sigma: 2, kernelSize: 33 });
  assert.deepEqual(hybridLowPass(modelEntry('mnist-flow'), 2), { sigma: 2, kernelSize: 33 });
  assert.deepEqual(hybridSizes(28), [196, 98, 49, 25]);
});
