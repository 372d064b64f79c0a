// The Euler sampler against a flow whose exact velocity is known: data x1 ~ N(μ, s²) per pixel, so
// u(x, t) = E[x1 − x0 | x_t = x] in closed form. The plain ODE and the churned sampler (noise back
// to t − γ/T along the forward process, then step) must both end at the data distribution; a wrong
// re-noising coefficient shows as a wrong spread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eulerSample, type FlowModel } from '../../../src/engine/flow/euler.js';

const MU = 0.3;
const S = 0.5;

/** x_t = t·x1 + (1 − t)·x0: Var x_t = t²s² + (1 − t)², Cov(x1, x_t) = t·s², Cov(x0, x_t) = 1 − t. */
const gaussianFlow: FlowModel = {
  conditional: false,
  async velocity(x, t, _classes, batch) {
    const per = x.length / batch;
    const u = new Float32Array(x.length);
    for (let b = 0; b < batch; b++) {
      const tb = t[b]!;
      const k = (tb * S * S - (1 - tb)) / (tb * tb * S * S + (1 - tb) ** 2);
      for (let i = b * per; i < (b + 1) * per; i++) u[i] = MU + k * (x[i]! - tb * MU);
    }
    return u;
  },
};

function moments(x: Float32Array): { mean: number; std: number } {
  let sum = 0;
  for (const v of x) sum += v;
  const mean = sum / x.length;
  let sq = 0;
  for (const v of x) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / x.length) };
}

const labels = Array.from({ length: 100 }, () => null); // 78,400 pixels: standard errors ≈ 0.002 (25 images: 0.004)

test('the plain Euler ODE carries N(0, 1) noise to the data distribution', async () => {
  // Euler's own error is ~1% of the spread at 100 steps; 1000 steps make it small against the tolerance.
  const m = moments(await eulerSample(gaussianFlow, { labels, steps: 1000, guidance: 1, seed: 0 }));
  assert.ok(Math.abs(m.mean - MU) < 0.01, `mean ${m.mean}`);
  assert.ok(Math.abs(m.std - S) < 0.01, `std ${m.std}`);
});

test('churn keeps the marginals: the churned sampler ends at the same distribution', async () => {
  // Each churned step spans (1 + γ)/T, so Euler's error grows with γ: more steps for a larger γ.
  // (Re-noising with c = 1 − t', without the second term, ends with a spread of 1.1–5.)
  for (const [churn, steps] of [[1, 1000], [3, 1000], [10, 3000]] as const) {
    const m = moments(await eulerSample(gaussianFlow, { labels: labels.slice(0, 25), steps, guidance: 1, seed: 1, churn }));
    assert.ok(Math.abs(m.mean - MU) < 0.015, `churn ${churn}: mean ${m.mean}`);
    assert.ok(Math.abs(m.std - S) < 0.01, `churn ${churn}: std ${m.std}`);
  }
});

test('churn is seeded: same seed, same image; churn 0 is the plain sampler bit for bit', async () => {
  const few = labels.slice(0, 4);
  const a = await eulerSample(gaussianFlow, { labels: few, steps: 20, guidance: 1, seed: 5, churn: 2 });
  const b = await eulerSample(gaussianFlow, { labels: few, steps: 20, guidance: 1, seed: 5, churn: 2 });
  assert.deepEqual(a, b);
  const plain = await eulerSample(gaussianFlow, { labels: few, steps: 20, guidance: 1, seed: 5 });
  assert.deepEqual(await eulerSample(gaussianFlow, { labels: few, steps: 20, guidance: 1, seed: 5, churn: 0 }), plain);
  assert.notDeepEqual(a, plain, 'the churn noise changes the sample');
  assert.notDeepEqual(await eulerSample(gaussianFlow, { labels: few, steps: 20, guidance: 1, seed: 6, churn: 2 }), a);
});

test('a negative or non-finite churn is refused', async () => {
  for (const churn of [-1, Number.NaN]) {
    await assert.rejects(eulerSample(gaussianFlow, { labels: [null], steps: 2, guidance: 1, seed: 0, churn }), /churn must be a number ≥ 0/);
  }
});
