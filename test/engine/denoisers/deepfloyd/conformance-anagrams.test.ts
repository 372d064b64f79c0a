// The engine's anagram and hybrid loops against dangeng/visual_anagrams' own sample_stage_1 on the tiny
// IF-I model at 64 px (../shared/if-golden, README 3.12): flip (visual_anagrams' flip is our flip_vertical),
// negate, the 3-view rotate_cw/rotate_ccw one, and the low/high-pass hybrid with `sum` reduction.
// Scheduler: IF-I's (dynamic thresholding 0.95/1.5), `set_timesteps(N)` leading timesteps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IfUnet } from '../../../../src/engine/denoisers/deepfloyd/unet.js';
import { anagram, anagramEstimator, type AnagramOptions } from '../../../../src/engine/sampling/anagram.js';
import type { Denoiser } from '../../../../src/engine/denoisers/denoiser.js';
import { encodeGuided } from '../../../../src/engine/sampling/cfg.js';
import { hybrid, hybridEstimator } from '../../../../src/engine/sampling/hybrid.js';
import {
  denoiseLoop,
  initialNoise,
  type Estimator,
  type SampleResult,
} from '../../../../src/engine/sampling/iterative.js';
import { ReplayNoise } from '../../../../src/engine/sampling/noise-file.js';
import { predictOriginal } from '../../../../src/engine/sampling/one-step.js';
import { IF_STAGE_I_THRESHOLDING, threshold } from '../../../../src/engine/sampling/thresholding.js';
import { leadingTimesteps } from '../../../../src/engine/schedules/timesteps.js';
import { concatChannels } from '../../../../src/engine/tensor.js';
import { createView } from '../../../../src/engine/views/registry.js';
import {
  embeddingRows,
  fmt,
  goldenDenoiser,
  goldenFile,
  latentTracker,
  maxAbsDiff,
  quiet,
  teacherForcing,
  UNET1,
} from './golden-loops.js';

const GUIDANCE = 10;
const thresholding = IF_STAGE_I_THRESHOLDING;
const ctx = { height: 64, width: 64 };

interface Case {
  file: string;
  prompts: string[];
  views: string[];
  steps: number;
}

const ANAGRAMS: Case[] = [
  {
    file: 'anagram-flip.safetensors',
    prompts: ['an oil painting of people around a campfire', 'an oil painting of an old man'],
    views: ['identity', 'flip_vertical'],
    steps: 30,
  },
  {
    file: 'anagram-negate.safetensors',
    prompts: ['a lithograph of a landscape', 'a lithograph of houseplants'],
    views: ['identity', 'negate'],
    steps: 30,
  },
  {
    file: 'anagram-3view.safetensors',
    prompts: ['an oil painting of a waterfall', 'an oil painting of a teddy bear', 'an oil painting of a rabbit'],
    views: ['identity', 'rotate_cw', 'rotate_ccw'],
    steps: 10,
  },
];

async function withUnet<T>(f: (unet: IfUnet) => Promise<T>): Promise<T> {
  const unet = await IfUnet.load(UNET1, quiet);
  try {
    return await f(unet);
  } finally {
    await unet.dispose();
  }
}

/** Step 0 (noise_pred, x0), the loop teacher-forced, and the engine function free-running. */
type LoopOpts = Omit<AnagramOptions, 'prompts' | 'views'>;

async function check(
  t: { diagnostic(s: string): void },
  name: string,
  file: string,
  steps: number,
  makeEstimator: (den: Denoiser) => Promise<Estimator>,
  free: (den: Denoiser, opts: LoopOpts) => Promise<SampleResult>,
  prompts: string[],
  finalBound: number,
): Promise<void> {
  const g = goldenFile(file);
  await withUnet(async (unet) => {
    const den = goldenDenoiser(
      unet,
      new Map([
        ...embeddingRows(g, 'prompt_embeds', prompts),
        embeddingRows(
          g,
          'negative_prompt_embeds',
          prompts.map(() => ''),
        )[0]!,
      ]),
      { side: 64 },
    );
    const timesteps = leadingTimesteps(steps);
    assert.deepEqual([...g.values('timesteps')], timesteps);
    const estimate = await makeEstimator(den);
    const p0 = await estimate(g.get('noise_000'), timesteps[0]!);
    const pred0 = maxAbsDiff(concatChannels([p0.eps, p0.varianceValues!]), g.get('step0.noise_pred'));
    const x00 = maxAbsDiff(
      threshold(predictOriginal(den.schedule, g.get('noise_000'), timesteps[0]!, p0.eps), thresholding),
      g.get('step0.x0'),
    );
    const tfNoise = ReplayNoise.fromFile(g.path);
    const tf = teacherForcing(g);
    await denoiseLoop(
      den.schedule,
      estimate,
      initialNoise(den, 1, tfNoise),
      { rng: tfNoise, timesteps, thresholding, finalStep: true, progressEvery: 0 },
      tf.hook,
    );
    assert.equal(tf.diffs.length, steps);
    const noise = ReplayNoise.fromFile(g.path);
    const track = latentTracker(g);
    const r = await free(den, {
      rng: noise,
      guidanceScale: GUIDANCE,
      timesteps,
      thresholding,
      finalStep: true,
      progressEvery: 0,
      onStep: track.onStep,
    });
    assert.equal(noise.used, noise.length, 'every recorded draw used');
    const final = maxAbsDiff(r.image, g.get('image'));
    t.diagnostic(
      `${name}: step0.noise_pred ${fmt(pred0)}, step0.x0 ${fmt(x00)} | teacher-forced worst step ${fmt(Math.max(...tf.diffs))} | free-running final ${fmt(final)}, worst step ${fmt(Math.max(...track.diffs))}`,
    );
    assert.ok(pred0 <= 2e-4, `guided, reduced ε of step 0: ${pred0}`);
    // x̂0 at t = 957 divides ε's error by √ᾱ ≈ 0.08 (then thresholding rescales it).
    assert.ok(x00 <= 1e-3, `x̂0 of step 0: ${x00}`);
    assert.ok(Math.max(...tf.diffs) <= 1e-4, 'every step within 1e-4');
    assert.ok(final <= finalBound, `whole loop ${final}`);
  });
}

for (const c of ANAGRAMS) {
  test(`${c.file.replace('.safetensors', '')}: the engine's anagram loop equals visual_anagrams' sample_stage_1 (${c.views.join(' + ')}, ${c.steps} steps)`, async (t) => {
    const views = c.views.map((v) => createView(v, ctx));
    await check(
      t,
      c.file,
      c.file,
      c.steps,
      async (den) => anagramEstimator(den, await encodeGuided(den, c.prompts, 1), views, GUIDANCE),
      (den, opts) => anagram(den, initialNoise(den, 1, opts.rng), { ...opts, prompts: c.prompts, views }),
      c.prompts,
      3e-3,
    );
  });
}

test("anagram-flip: the first UNet call is visual_anagrams' batch [x, flip(x), x, flip(x)] with [neg, neg, pos, pos]", async (t) => {
  const g = goldenFile('anagram-flip.safetensors');
  const flip = createView('flip_vertical', ctx);
  const x = g.get('noise_000');
  const sample = g.get('unet0.sample');
  assert.equal(maxAbsDiff(sample.data.subarray(3 * 64 * 64, 6 * 64 * 64), flip.view(x).data), 0);
  await withUnet(async (unet) => {
    const d = maxAbsDiff(await unet.predict(sample, 957, g.values('unet0.encoder_hidden_states')), g.get('unet0.out'));
    t.diagnostic(`anagram-flip unet0 (batch 4, 64 px): ${fmt(d)}`);
    assert.ok(d <= 1e-4);
  });
});

test("hybrid-lowhigh: the engine's hybrid loop (low-pass of far + high-pass of near, kernel 33, σ 2) equals visual_anagrams' sum reduction", async (t) => {
  const prompts = ['a painting of a panda', 'a painting of a flower arrangement'];
  const filter = { sigma: 2, kernelSize: 33 };
  await check(
    t,
    'hybrid-lowhigh',
    'hybrid-lowhigh.safetensors',
    30,
    async (den) => hybridEstimator(den, await encodeGuided(den, prompts, 1), filter, GUIDANCE),
    (den, opts) =>
      hybrid(den, initialNoise(den, 1, opts.rng), { ...opts, farPrompt: prompts[0]!, nearPrompt: prompts[1]!, filter }),
    // Guidance 10 on two prompts, summed: the per-step residue (≤ 5e-5 teacher-forced) grows to ~3e-2 over 30 free steps.
    prompts,
    0.1,
  );
});
