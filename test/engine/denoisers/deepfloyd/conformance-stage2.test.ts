// Stage II super-resolution against IFSuperResolutionPipeline on the tiny IF-II model, 32 → 64 px
// (../shared/if-golden, README 3.10), through DeepFloydIF itself (its prompt encoding, the stage II
// UNet, clamp, upscale and noise augmentation): noise level 250 on TS34 and 50 on DeepFloyd's super27
// list, guidance 4, IF-II's dynamic thresholding (max 1.0). The recorded draws are replayed through
// one noise source in diffusers' order: the initial sample, then the conditioning image's noise, then
// one per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeepFloydIF, embeddingKey } from '../../../../src/engine/denoisers/deepfloyd-if.js';
import { cfgDenoise, cfgEstimator, encodeGuided } from '../../../../src/engine/sampling/cfg.js';
import { denoiseLoop } from '../../../../src/engine/sampling/iterative.js';
import { ReplayNoise } from '../../../../src/engine/sampling/noise-file.js';
import { IF_STAGE_II_THRESHOLDING } from '../../../../src/engine/sampling/thresholding.js';
import { stridedTimesteps, SUPER27_TIMESTEPS } from '../../../../src/engine/schedules/timesteps.js';
import type { Tensor } from '../../../../src/engine/tensor.js';
import { fmt, GOLDEN, goldenFile, latentTracker, maxAbsDiff, quiet, teacherForcing } from './golden-loops.js';

const PROMPT = 'A painting of a Squirrel eating a burger';
const GUIDANCE = 4;
const thresholding = IF_STAGE_II_THRESHOLDING;
const STAGE_I = `${GOLDEN}models/IF-I-tiny`;
// diffusers' own prompt embeddings, handed in through the embedding cache as a stored job's would be, so
// these runs measure the loop alone (T5 has its own goldens; through T5 the rows differ by ~1e-6).
const embeddings = new Map<string, Float32Array>();
const models = DeepFloydIF.load({
  dir: STAGE_I,
  stageIIDir: `${GOLDEN}models/IF-II-tiny`,
  size: 32,
  cache: { get: (key) => embeddings.get(key), set: () => {} },
  ...quiet,
});
{
  const g = goldenFile('superres-nl250.safetensors');
  const id = DeepFloydIF.textEncoderIdOf(STAGE_I)!;
  embeddings.set(embeddingKey(id, PROMPT), g.values('prompt_embeds'));
  embeddings.set(embeddingKey(id, ''), g.values('negative_prompt_embeds'));
}

// Bounds as measured with margin: at noise level 250 the 64 px stage II calls differ more (2e-4 a step).
for (const [file, level, timesteps, stepBound, finalBound] of [
  ['superres-nl250.safetensors', 250, stridedTimesteps(), 4e-4, 5e-3],
  ['superres-nl50.safetensors', 50, [...SUPER27_TIMESTEPS], 1e-4, 1e-3],
] as const) {
  test(`${file.replace('.safetensors', '')}: DeepFloydIF stage II (noise level ${level}, ${timesteps.length} timesteps) equals diffusers`, async (t) => {
    const g = goldenFile(file);
    assert.deepEqual([...g.values('timesteps')], timesteps);
    const m = await models;
    const low = g.get('input_image');
    const opts = { timesteps, thresholding, finalStep: true, progressEvery: 0, guidanceScale: GUIDANCE };
    // Teacher-forced: each step from diffusers' latent before it.
    const tfNoise = ReplayNoise.fromFile(g.path);
    const tfStage = await m.stageII(low, { rng: tfNoise, size: 64, noiseLevel: level });
    const init = maxAbsDiff(tfStage.initial, g.get('noise_000'));
    const tf = teacherForcing(g);
    await denoiseLoop(
      tfStage.schedule,
      cfgEstimator(tfStage, await encodeGuided(tfStage, [PROMPT], 1), GUIDANCE),
      tfStage.initial,
      { ...opts, rng: tfNoise },
      tf.hook,
    );
    assert.equal(tfNoise.used, tfNoise.length, 'every recorded draw used (teacher-forced)');
    // Free-running, as a job runs it.
    const noise = ReplayNoise.fromFile(g.path);
    const stage = await m.stageII(low, { rng: noise, size: 64, noiseLevel: level });
    assert.equal(stage.noiseLevel, level);
    assert.deepEqual(noise.requests, ['the initial noise', 'the noise of the conditioning image']);
    // The conditioning image as diffusers makes it: add_noise(upscaled, noise_001, L).
    const sched = goldenFile('scheduler.safetensors');
    const k = [...sched.values('noise_levels')].indexOf(level);
    const [a, b] = [
      sched.values('noise_levels.sqrt_alpha_prod')[k]!,
      sched.values('noise_levels.sqrt_one_minus_alpha_prod')[k]!,
    ];
    const up = g.values('upscaled');
    const n1 = g.values('noise_001');
    const cond = maxAbsDiff(
      stage.conditioningImage,
      up.map((u, i) => a * u + b * n1[i]!),
    );
    const track = latentTracker(g);
    const r = await cfgDenoise(stage, stage.initial, {
      ...opts,
      prompt: PROMPT,
      rng: noise,
      onStep: track.onStep as (f: { x: Tensor }) => void,
    });
    assert.equal(noise.used, noise.length, 'every recorded draw used');
    const rows = (c: unknown): Float32Array[] => (c as { rows: Float32Array[] }).rows;
    const enc = rows(await m.encode([PROMPT, '']));
    assert.deepEqual(
      [enc[0], enc[1]],
      [g.values('prompt_embeds'), g.values('negative_prompt_embeds')],
      'the rows came from the cache',
    );
    const final = maxAbsDiff(r.image, g.get('image'));
    t.diagnostic(
      `${file}: conditioning image ${fmt(cond)} | teacher-forced worst step ${fmt(Math.max(...tf.diffs))} | free-running final ${fmt(final)}, worst step ${fmt(Math.max(...track.diffs))}`,
    );
    assert.equal(init, 0, 'x_T is the first recorded draw');
    assert.ok(cond <= 1e-6, `conditioning image ${cond}`);
    assert.equal(tf.diffs.length, timesteps.length);
    assert.ok(Math.max(...tf.diffs) <= stepBound, `every step within ${stepBound}`);
    assert.ok(final <= finalBound, `whole loop ${final}`);
  });
}

test.after(async () => {
  await (await models).dispose();
});
