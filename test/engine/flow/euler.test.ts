// The Euler sampler against a flow whose exact velocity is known: data x1 ~ N(μ, s²) per pixel, so
// u(x, t) = E[x1 − x0 | x_t = x] in closed form. The plain ODE and the churned sampler (noise back
// to t − γ/T along the forward process, then step) must both end at the data distribution; a wrong
// re-noising coefficient shows as a wrong spread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  eulerSample,
  ODE_SOLVERS,
  solverEvaluations,
  type EulerOptions,
  type FlowModel,
  type OdeSolver,
} from '../../../src/engine/flow/euler.js';
import { Rng } from '../../../src/engine/random.js';

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
  for (const [churn, steps] of [
    [1, 1000],
    [3, 1000],
    [10, 3000],
  ] as const) {
    const m = moments(
      await eulerSample(gaussianFlow, { labels: labels.slice(0, 25), steps, guidance: 1, seed: 1, churn }),
    );
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
    await assert.rejects(
      eulerSample(gaussianFlow, { labels: [null], steps: 2, guidance: 1, seed: 0, churn }),
      /churn must be a number ≥ 0/,
    );
  }
});

/** u_c = c + 1 for class c, u_∅ = 0, everywhere: the guided step is γ(c + 1), the unguided c + 1. Records each call's batch. */
function constantClassFlow(): FlowModel & { batches: number[] } {
  const batches: number[] = [];
  return {
    conditional: true,
    batches,
    async velocity(x, _t, classes, batch) {
      batches.push(batch);
      assert.equal(x.length, batch * 784);
      assert.equal(classes.length, batch);
      const u = new Float32Array(x.length);
      for (let b = 0; b < batch; b++) u.fill(classes[b]! < 0 ? 0 : classes[b]! + 1, b * 784, (b + 1) * 784);
      return u;
    },
  };
}

test('guidance on an interval: guided steps inside it, the conditional rows alone outside it', async () => {
  const labels = [0, 3];
  const g = 4;
  const plainModel = constantClassFlow();
  const plain = await eulerSample(plainModel, { labels, steps: 10, guidance: 1, seed: 2 });
  assert.deepEqual(plainModel.batches, new Array(10).fill(2), 'γ = 1 never runs the null class');
  const model = constantClassFlow();
  const x = await eulerSample(model, { labels, steps: 10, guidance: g, seed: 2, guidanceInterval: [0.3, 0.6] });
  // Steps from t = 0.3, 0.4, 0.5, 0.6 are guided: 4 of 10 steps of 0.1 move γ(c + 1), the rest c + 1.
  assert.deepEqual(model.batches, [2, 2, 2, 4, 4, 4, 4, 2, 2, 2]);
  for (let i = 0; i < 2; i++) {
    const extra = (labels[i]! + 1) * (g - 1) * 0.4;
    for (let p = i * 784; p < (i + 1) * 784; p++)
      assert.ok(
        Math.abs(x[p]! - plain[p]! - extra) < 1e-5,
        `image ${i} pixel ${p}: ${x[p]! - plain[p]!} against ${extra}`,
      );
  }
  // The whole interval is the default, bit for bit; an empty-width interval at a step time guides that step only.
  const all = constantClassFlow();
  assert.deepEqual(
    await eulerSample(all, { labels, steps: 10, guidance: g, seed: 2, guidanceInterval: [0, 1] }),
    await eulerSample(constantClassFlow(), { labels, steps: 10, guidance: g, seed: 2 }),
  );
  assert.deepEqual(all.batches, new Array(10).fill(4));
  const one = constantClassFlow();
  await eulerSample(one, { labels, steps: 10, guidance: g, seed: 2, guidanceInterval: [0.5, 0.5] });
  assert.deepEqual(one.batches, [2, 2, 2, 2, 2, 4, 2, 2, 2, 2]);
});

test('guidance on an interval with churn: the interval is judged at the time the model is evaluated', async () => {
  // Churn 2 at 10 steps evaluates from t' = t − 0.2 (for 0 < t ≤ 0.9): times 0, 0, 0, 0.1, …, 0.7, 1.0 → 0.9 unchurned.
  const model = constantClassFlow();
  await eulerSample(model, { labels: [1], steps: 10, guidance: 3, seed: 0, churn: 2, guidanceInterval: [0.3, 1] });
  const times = [0, 0, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9];
  assert.deepEqual(
    model.batches,
    times.map((t) => (t >= 0.3 - 1e-12 ? 2 : 1)),
  );
});

test('a guidance interval outside 0 ≤ lo ≤ hi ≤ 1 is refused', async () => {
  for (const interval of [
    [0.6, 0.3],
    [-0.1, 1],
    [0, 1.5],
    [Number.NaN, 1],
  ] as const) {
    await assert.rejects(
      eulerSample(constantClassFlow(), { labels: [1], steps: 2, guidance: 3, seed: 0, guidanceInterval: interval }),
      /guidance interval needs 0 ≤ lo ≤ hi ≤ 1/,
    );
  }
});

test('Heun and DPM-Solver++ (2M) follow the exact ODE closer than Euler at few steps, Heun to second order', async () => {
  // The ODE of this flow carries each x0 to MU + S·x0 (the monotone map between the two Gaussians).
  const seed = 4;
  const x0 = new Rng(seed).normals(200);
  const error = async (solver: OdeSolver, steps: number) => {
    const x = await eulerSample(gaussianFlow, { labels: [null], steps, guidance: 1, seed, solver });
    let worst = 0;
    for (let i = 0; i < 200; i++) worst = Math.max(worst, Math.abs(x[i]! - (MU + S * x0[i]!)));
    return worst;
  };
  const euler = await error('euler', 10);
  assert.ok(euler > 1e-3, `Euler at 10 steps is off (${euler})`);
  assert.ok((await error('heun', 10)) < euler / 4, 'Heun');
  assert.ok((await error('dpm2m', 10)) < euler / 2, 'DPM-Solver++ (2M)');
  const ratio = (await error('heun', 10)) / (await error('heun', 20));
  assert.ok(ratio > 3, `halving Heun's step divides its error by about 4, got ${ratio}`);
});

test('each solver calls the model as often as solverEvaluations says, and an unknown one is refused', async () => {
  for (const solver of ODE_SOLVERS) {
    let calls = 0;
    const counting: FlowModel = {
      conditional: false,
      velocity: async (...a) => {
        calls++;
        return gaussianFlow.velocity(...a);
      },
    };
    await eulerSample(counting, { labels: [null], steps: 7, guidance: 1, seed: 1, solver });
    assert.equal(calls, solverEvaluations(solver, 7), solver);
  }
  await assert.rejects(
    eulerSample(gaussianFlow, { labels: [null], steps: 3, guidance: 1, seed: 1, solver: 'rk4' as OdeSolver }),
    /solver must be one of euler, heun, dpm2m, got 'rk4'/,
  );
});

test('churn on an interval: only steps from t in [lo, hi] are re-noised', async () => {
  // Churn 2 at 10 steps on [0.5, 0.8]: the steps from 0.5 … 0.8 evaluate at t − 0.2; the others where they start.
  const model = constantClassFlow();
  await eulerSample(model, {
    labels: [1],
    steps: 10,
    guidance: 3,
    seed: 0,
    churn: 2,
    churnInterval: [0.5, 0.8],
    guidanceInterval: [0.35, 1],
  });
  const times = [0, 0.1, 0.2, 0.3, 0.4, 0.3, 0.4, 0.5, 0.6, 0.9];
  assert.deepEqual(
    model.batches,
    times.map((t) => (t >= 0.35 ? 2 : 1)),
  );
  // The default interval is [0, 0.9], bit for bit; churn outside every step's time changes nothing.
  const few = (opts: Partial<EulerOptions> = {}) =>
    eulerSample(gaussianFlow, { labels: labels.slice(0, 4), steps: 20, guidance: 1, seed: 5, ...opts });
  assert.deepEqual(await few({ churn: 2, churnInterval: [0, 0.9] }), await few({ churn: 2 }));
  assert.deepEqual(await few({ churn: 2, churnInterval: [0.97, 1] }), await few());
});

test('DPM-Solver++ (2M) takes churned steps first-order: with churn on every step it is the churned Euler sampler', async () => {
  // Multistep extrapolation across fresh noise would take the noise for curvature.
  const few = labels.slice(0, 4);
  const opts = { labels: few, steps: 12, guidance: 1, seed: 3, churn: 2, churnInterval: [0, 1] as const };
  const euler = await eulerSample(gaussianFlow, opts);
  const dpm = await eulerSample(gaussianFlow, { ...opts, solver: 'dpm2m' });
  let worst = 0;
  for (let i = 0; i < euler.length; i++) worst = Math.max(worst, Math.abs(euler[i]! - dpm[i]!));
  assert.ok(worst < 1e-5, `the same steps up to rounding, got ${worst}`);
  const plainEuler = await eulerSample(gaussianFlow, { labels: few, steps: 12, guidance: 1, seed: 3 });
  const plainDpm = await eulerSample(gaussianFlow, { labels: few, steps: 12, guidance: 1, seed: 3, solver: 'dpm2m' });
  let apart = 0;
  for (let i = 0; i < plainEuler.length; i++) apart = Math.max(apart, Math.abs(plainEuler[i]! - plainDpm[i]!));
  assert.ok(apart > 1e-3, `without churn the two solvers differ (${apart})`);
});
