// Every Part A technique run for real on the MNIST flow denoiser backed by an exact flow over 7-segment
// digits: forward statistics, blur, determinism, CFG γ = 1, SDEdit closeness, inpainting, anagrams, hybrids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MnistFlowDenoiser } from '../../../src/engine/denoisers/mnist-flow.js';
import { Rng } from '../../../src/engine/random.js';
import { anagram } from '../../../src/engine/sampling/anagram.js';
import { defaultKernelSize, gaussianBlur, gaussianKernel1d } from '../../../src/engine/sampling/blur.js';
import { cfgEstimator, encodeGuided, imagine } from '../../../src/engine/sampling/cfg.js';
import { forward } from '../../../src/engine/sampling/forward.js';
import { hybrid, hybridFilter } from '../../../src/engine/sampling/hybrid.js';
import { boxMask, inpaint } from '../../../src/engine/sampling/inpaint.js';
import { initialNoise, iterativeDenoise } from '../../../src/engine/sampling/iterative.js';
import { sdedit } from '../../../src/engine/sampling/sdedit.js';
import { stridedTimesteps } from '../../../src/engine/schedules/timesteps.js';
import { full, mse, randn, scale, stats } from '../../../src/engine/tensor.js';
import { createView } from '../../../src/engine/views/registry.js';
import { digitDataset, digitImage, nearestLabel } from '../../fixtures/digits.js';
import { EmpiricalFlow } from '../../fixtures/empirical-flow.js';

const data = digitDataset();
const makeDenoiser = (): MnistFlowDenoiser => new MnistFlowDenoiser(new EmpiricalFlow(data));
const ctx = { height: 28, width: 28 };

test('forward process: x_t has mean √ᾱ·x0 and variance 1 − ᾱ', () => {
  const den = makeDenoiser();
  const x0 = full([1, 1, 200, 200], 0.5);
  for (const t of [250, 500, 750]) {
    const a = den.schedule.alphasCumprod[t]!;
    const { mean, variance } = stats(forward(den.schedule, x0, t, new Rng(t)).xt);
    assert.ok(Math.abs(mean - Math.sqrt(a) * 0.5) < 0.01, `t=${t} mean ${mean}`);
    assert.ok(Math.abs(variance - (1 - a)) < 0.02, `t=${t} var ${variance}`);
  }
});

test('blur: 6σ+1 kernel that sums to 1, preserves constants, and removes most noise variance', () => {
  assert.equal(defaultKernelSize(2), 13);
  assert.ok(Math.abs(gaussianKernel1d(13, 2).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.ok(mse(gaussianBlur(full([1, 1, 8, 8], 0.3)), full([1, 1, 8, 8], 0.3)) < 1e-12);
  assert.ok(stats(gaussianBlur(randn([1, 1, 64, 64], new Rng(0)))).variance < 0.05);
  assert.throws(() => gaussianKernel1d(4, 1), /positive odd integer/);
});

test('imagine: same seed → identical bytes; different seed → different image; prompt is obeyed', async () => {
  const den = makeDenoiser();
  const run = async (seed: number) => (await imagine(den, { prompt: '4', rng: new Rng(seed), batch: 2 })).image;
  const a = await run(7),
    b = await run(7),
    c = await run(8);
  assert.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
  assert.ok(mse(a, c) > 0);
  const first = (await imagine(den, { prompt: 'four', rng: new Rng(7) })).image;
  assert.equal(nearestLabel(first), 4);
});

test('CFG runs conditional and unconditional rows in one call; γ = 1 equals the conditional estimate', async () => {
  const flow = new EmpiricalFlow(data);
  const den = new MnistFlowDenoiser(flow);
  const x = randn([2, 1, 28, 28], new Rng(3));
  const cond = await encodeGuided(den, ['2'], 2);
  flow.calls = 0;
  const guided = await cfgEstimator(den, cond, 1)(x, 600);
  assert.equal(flow.calls, 1);
  assert.equal(flow.rows, 4);
  const conditional = await den.predict(x, 600, (await den.encode(['2'])).take([0, 0]));
  assert.deepEqual(guided.eps.data, conditional.eps.data);
  const strong = await cfgEstimator(den, cond, 7)(x, 600);
  assert.ok(mse(strong.eps, conditional.eps) > 0);
});

test('iterative denoising from i_start 10 cleans a noised digit; progression every 5th step', async () => {
  const den = makeDenoiser();
  const x0 = digitImage(2);
  const ts = stridedTimesteps();
  const { xt } = forward(den.schedule, x0, ts[10]!, new Rng(5));
  const r = await iterativeDenoise(den, xt, { prompt: '2', rng: new Rng(5), iStart: 10 });
  assert.deepEqual(
    r.progression.map((p) => p.t),
    [690, 540, 390, 240, 90],
  );
  assert.ok(mse(r.image, x0) < 0.05, `${mse(r.image, x0)}`);
});

test('SDEdit: higher i_start stays closer to the input', async () => {
  const den = makeDenoiser();
  // A "sketch": an 8 with its middle bar erased and a stray block, off the data manifold.
  const sketch = digitImage(8);
  for (let x = 10; x < 18; x++) {
    sketch.data[13 * 28 + x] = -1;
    sketch.data[14 * 28 + x] = -1;
  }
  for (let y = 24; y < 27; y++) for (let x = 2; x < 6; x++) sketch.data[y * 28 + x] = 1;
  const results = await sdedit(den, sketch, {
    prompt: '',
    rng: new Rng(11),
    iStarts: [1, 10, 20, 30],
    progressEvery: 0,
  });
  const d = results.map((r) => mse(r.image, sketch));
  assert.deepEqual(
    results.map((r) => r.t),
    [960, 690, 390, 90],
  );
  assert.ok(d[3]! < d[2]! && d[2]! < d[0]!, `distances ${d.map((v) => v.toFixed(3)).join(' ')}`);
  await assert.rejects(
    sdedit(den, sketch, { prompt: '', rng: new Rng(1), iStarts: [40] }),
    /i_start must be an integer from 0 to 32/,
  );
});

test('inpainting keeps every unmasked pixel exactly and repaints the box', async () => {
  const den = makeDenoiser();
  const original = digitImage(8);
  const mask = boxMask(28, 28, { x: 6, y: 11, width: 16, height: 6 });
  const r = await inpaint(den, original, mask, { prompt: '0', rng: new Rng(2) });
  let changed = 0;
  for (let i = 0; i < 784; i++) {
    if (mask.data[i] === 0) assert.equal(r.image.data[i], original.data[i]);
    else changed += Math.abs(r.image.data[i]! - original.data[i]!) > 0.5 ? 1 : 0;
  }
  // Asked for a 0, the model must erase the 8's middle bar between the verticals (8 px × 2 rows).
  assert.ok(changed >= 16, `${changed} pixels changed`);
  assert.equal(nearestLabel(r.image), 0);
  assert.throws(() => boxMask(28, 28, { x: 20, y: 0, width: 10, height: 2 }), /inside the 28×28 image/);
});

test('flip anagram of 6 and 9: the image reads 6, turned over it reads 9', async () => {
  const den = makeDenoiser();
  const views = [createView('identity', ctx), createView('flip', ctx)];
  const r = await anagram(den, initialNoise(den, 1, new Rng(0)), { prompts: ['6', '9'], views, rng: new Rng(0) });
  assert.equal(nearestLabel(r.image), 6);
  assert.equal(nearestLabel(views[1]!.view(r.image)), 9);
});

test('negate anagram and three-prompt anagrams run; wrong prompt counts are refused', async () => {
  const den = makeDenoiser();
  const views = ['identity', 'negate', 'rotate_cw'].map((n) => createView(n, ctx));
  const x = initialNoise(den, 1, new Rng(1));
  const r = await anagram(den, x, {
    prompts: ['1', '7', '4'],
    views,
    rng: new Rng(1),
    timesteps: stridedTimesteps({ stride: 90 }),
  });
  assert.deepEqual(r.image.shape, [1, 1, 28, 28]);
  await assert.rejects(
    anagram(den, x, { prompts: ['1'], views: views.slice(0, 1), rng: new Rng(1) }),
    /2 or 3 prompts/,
  );
});

test('hybrid: filter scales with size; the low frequencies follow the far prompt', async () => {
  assert.deepEqual(hybridFilter(64), { sigma: 2, kernelSize: 33 });
  assert.deepEqual(hybridFilter(256), { sigma: 8, kernelSize: 133 });
  assert.deepEqual(hybridFilter(28), { sigma: 0.875, kernelSize: 15 });
  const den = makeDenoiser();
  const r = await hybrid(den, initialNoise(den, 1, new Rng(3)), { farPrompt: '0', nearPrompt: '1', rng: new Rng(3) });
  const low = (x: typeof r.image) => gaussianBlur(x, { sigma: 2, kernelSize: 13 });
  assert.ok(mse(low(r.image), low(digitImage(0))) < mse(low(r.image), low(digitImage(1))));
  assert.ok(Number.isFinite(stats(scale(r.image, 1)).variance));
});
