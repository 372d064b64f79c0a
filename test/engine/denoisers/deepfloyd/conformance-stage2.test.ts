// Stage II super-resolution against IFSuperResolutionPipeline on the tiny IF-II model, 32 → 64 px
// (../shared/if-golden, README 3.10): noise level 250 on TS34 and 50 on DeepFloyd's super27 list,
// guidance 4, IF-II's dynamic thresholding (max 1.0). Draw order: the initial sample, then the noise
// of the conditioning image, then one per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IfUnet } from '../../../../src/engine/denoisers/deepfloyd/unet.js';
import { cfgDenoise, cfgEstimator, encodeGuided } from '../../../../src/engine/sampling/cfg.js';
import { addNoise } from '../../../../src/engine/sampling/forward.js';
import { denoiseLoop } from '../../../../src/engine/sampling/iterative.js';
import { ReplayNoise } from '../../../../src/engine/sampling/noise-file.js';
import { IF_STAGE_II_THRESHOLDING } from '../../../../src/engine/sampling/thresholding.js';
import { cosineSchedule } from '../../../../src/engine/schedules/noise-schedule.js';
import { stridedTimesteps, SUPER27_TIMESTEPS } from '../../../../src/engine/schedules/timesteps.js';
import { resizeBilinear } from '../../../../src/engine/tensor.js';
import {
  embeddingRows,
  fmt,
  goldenDenoiser,
  goldenFile,
  latentTracker,
  maxAbsDiff,
  quiet,
  teacherForcing,
  UNET2,
} from './golden-loops.js';

const PROMPT = 'A painting of a Squirrel eating a burger';
const GUIDANCE = 4;
const thresholding = IF_STAGE_II_THRESHOLDING;

// Bounds as measured with margin: at noise level 250 the 64 px stage II calls differ more (2e-4 a step).
for (const [file, level, timesteps, stepBound, finalBound] of [
  ['superres-nl250.safetensors', 250, stridedTimesteps(), 4e-4, 5e-3],
  ['superres-nl50.safetensors', 50, [...SUPER27_TIMESTEPS], 1e-4, 1e-3],
] as const) {
  test(`${file.replace('.safetensors', '')}: stage II loop (noise level ${level}, ${timesteps.length} timesteps) equals diffusers`, async (t) => {
    const g = goldenFile(file);
    assert.deepEqual([...g.values('timesteps')], timesteps);
    const unet = await IfUnet.load(UNET2, quiet);
    try {
      const schedule = cosineSchedule(1000);
      const embeddings = new Map([
        ...embeddingRows(g, 'prompt_embeds', [PROMPT]),
        ...embeddingRows(g, 'negative_prompt_embeds', ['']),
      ]);
      const upscaled = resizeBilinear(g.get('input_image'), 64, 64, true);
      const up = maxAbsDiff(upscaled, g.get('upscaled'));
      const run = async (
        noise: ReplayNoise,
        tf?: ReturnType<typeof teacherForcing>,
        onStep?: (f: { x: import('../../../../src/engine/tensor.js').Tensor }) => void,
      ) => {
        const x = noise.draw([1, 3, 64, 64], 'the initial noise');
        const cond = {
          image: addNoise(schedule, upscaled, level, noise.draw(upscaled.shape, 'the noise of the conditioning image')),
          noiseLevel: level,
        };
        const den = goldenDenoiser(unet, embeddings, { side: 64, cond, schedule });
        const opts = {
          rng: noise,
          timesteps,
          thresholding,
          finalStep: true,
          progressEvery: 0,
          guidanceScale: GUIDANCE,
          ...(onStep ? { onStep } : {}),
        };
        if (tf)
          return denoiseLoop(
            schedule,
            cfgEstimator(den, await encodeGuided(den, [PROMPT], 1), GUIDANCE),
            x,
            opts,
            tf.hook,
          );
        return cfgDenoise(den, x, { ...opts, prompt: PROMPT });
      };
      const tfNoise = ReplayNoise.fromFile(g.path);
      const tf = teacherForcing(g);
      await run(tfNoise, tf);
      assert.equal(tfNoise.used, tfNoise.length);
      const noise = ReplayNoise.fromFile(g.path);
      const track = latentTracker(g);
      const r = await run(noise, undefined, track.onStep);
      assert.equal(noise.used, noise.length, 'every recorded draw used');
      const final = maxAbsDiff(r.image, g.get('image'));
      t.diagnostic(
        `${file}: upscaled ${fmt(up)} | teacher-forced worst step ${fmt(Math.max(...tf.diffs))} | free-running final ${fmt(final)}, worst step ${fmt(Math.max(...track.diffs))}`,
      );
      assert.ok(up <= 1e-6, `bilinear upscale ${up}`);
      assert.ok(Math.max(...tf.diffs) <= stepBound, `every step within ${stepBound}`);
      assert.ok(final <= finalBound, `whole loop ${final}`);
    } finally {
      await unet.dispose();
    }
  });
}
