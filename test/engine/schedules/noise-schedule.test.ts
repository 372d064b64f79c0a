// The cosine schedule against its closed form, strided timesteps, and the two step variances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineSchedule, scheduleByName } from '../../../src/engine/schedules/noise-schedule.js';
import { checkIStart, stridedTimesteps } from '../../../src/engine/schedules/timesteps.js';
import { learnedRangeLogVariance, stepCoefficients } from '../../../src/engine/schedules/variance.js';
import { tensor } from '../../../src/engine/tensor.js';

const f = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;

test('squaredcos_cap_v2 ᾱ_t = f((t+1)/T)/f(0) until β hits the 0.999 cap', () => {
  const s = cosineSchedule(1000);
  for (const t of [0, 1, 250, 500, 750, 990]) {
    assert.ok(Math.abs(s.alphasCumprod[t]! - f((t + 1) / 1000) / f(0)) < 1e-9, `t=${t}`);
  }
  assert.equal(s.betas[999], 0.999);
  for (let t = 1; t < 1000; t++) assert.ok(s.alphasCumprod[t]! < s.alphasCumprod[t - 1]!);
  assert.throws(() => scheduleByName('linear'), /allowed: squaredcos_cap_v2/);
});

test("strided timesteps are the write-up's list and i_start indexes it", () => {
  const ts = stridedTimesteps();
  assert.equal(ts.length, 34);
  assert.deepEqual([ts[0], ts[1], ts[10], ts[33]], [990, 960, 690, 0]);
  assert.deepEqual(stridedTimesteps({ start: 100, stride: 50 }), [100, 50, 0]);
  assert.throws(() => checkIStart(ts, 33), /i_start must be an integer from 0 to 32/);
  assert.throws(() => stridedTimesteps({ stride: 0 }), /stride ≥ 1/);
});

test('step coefficients: β̃ ≤ β, and learned_range spans log β̃ … log β', () => {
  const s = cosineSchedule();
  const c = stepCoefficients(s, 690, 660);
  assert.ok(c.posteriorVariance < c.beta && c.beta > 0);
  const lv = learnedRangeLogVariance(s, 690, 660, tensor([1, 1, 1, 3], Float32Array.of(-1, 0, 1)));
  assert.ok(Math.abs(lv.data[0]! - Math.log(c.posteriorVariance)) < 1e-5);
  assert.ok(Math.abs(lv.data[2]! - Math.log(c.beta)) < 1e-5);
  assert.ok(Math.abs(lv.data[1]! - (Math.log(c.beta) + Math.log(c.posteriorVariance)) / 2) < 1e-5);
  assert.throws(() => stepCoefficients(s, 10, 20), /smaller timestep/);
  assert.throws(() => stepCoefficients(s, 1000, 0), /from 0 to 999/);
});
