// `hybrid`: hybrid images by factorized diffusion (A.1.9): the far prompt's low frequencies plus the near
// prompt's high ones; writes the image, a strip of it at shrinking sizes and a zoom-out GIF.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { jobNoise, replaying } from './noise.js';
import { defaultKernelSize } from '../sampling/blur.js';
import { hybrid, hybridFilter } from '../sampling/hybrid.js';
import { initialNoise, loopSteps } from '../sampling/iterative.js';
import { hybridSizesPng, hybridZoomAnimation } from './animation.js';
import { InputError } from '../errors.js';
import type { LoadedModel, ModelEntry } from '../models/registry.js';
import {
  imagePngs,
  progressionRows,
  stepCounter,
  stripPng,
  withRole,
  type RunOptions,
  type TechniqueResult,
} from './outputs.js';
import { samplerFor } from './timesteps.js';
import { checkUpscale, stageIIFor, UPSCALE_FACTOR, upscaleRecord, upscaleSampler, type UpscaleJob } from './upscale.js';

export interface HybridJob {
  far: string;
  near: string;
  /** σ of the Gaussian low-pass in pixels; default 2 at 64 px, scaled with the side. */
  sigma?: number;
  steps: number;
  guidance: number;
  seed: number;
  /** 'dynamic' / 'clip': diffusers' IF scheduler (samplerFor); absent: the write-up's loop. */
  thresholding?: ThresholdingMode | undefined;
  /** A recorded noise file to replay instead of the seed's draws. */
  noise?: string | undefined;
  /** Stage II: the factorized loop again at ×4, its low-pass scaled with the side. */
  upscale?: UpscaleJob | undefined;
}

/**
 * The low-pass: the scaled default, or σ with the default's kernel-to-σ ratio (33 taps at σ 2). `scale`:
 * for images that many times the model's side (stage II: 4), σ given in the model's pixels scaled with them.
 */
export function hybridLowPass(model: ModelEntry, sigma?: number, scale = 1): { sigma: number; kernelSize: number } {
  const [, h, w] = model.shape;
  if (sigma === undefined) return hybridFilter(Math.min(h, w) * scale);
  const s = sigma * scale;
  const k = Math.max(defaultKernelSize(s), Math.round(16 * s) + 1);
  return { sigma: s, kernelSize: k % 2 === 1 ? k : k + 1 };
}

export function checkHybrid(model: ModelEntry, job: HybridJob): void {
  model.checkPrompt(job.far, 'far');
  model.checkPrompt(job.near, 'near');
  samplerFor(job.steps, job.thresholding);
  const side = model.shape[1];
  if (job.sigma !== undefined && !(job.sigma > 0 && job.sigma <= side / 4))
    throw new InputError(
      `sigma must be a number above 0 and at most ${side / 4} (a quarter of the ${side} px image), got ${job.sigma}`,
    );
  checkUpscale(model, job.upscale, job.thresholding);
}

export async function runHybrid(model: LoadedModel, job: HybridJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  checkHybrid(model.entry, job);
  const started = performance.now();
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const rng = noise.rng;
  const filter = hybridLowPass(model.entry, job.sigma);
  const up = job.upscale;
  const sampler2 = up ? upscaleSampler(up, job.thresholding) : undefined;
  const filter2 = up ? hybridLowPass(model.entry, job.sigma, UPSCALE_FACTOR) : undefined;
  const onStep = stepCounter(
    loopSteps(sampler.timesteps, sampler) + (sampler2 ? loopSteps(sampler2.timesteps, sampler2) : 0),
    opts.onStep,
  );
  const result = await replaying(() =>
    hybrid(model.denoiser, initialNoise(model.denoiser, 1, rng), {
      farPrompt: job.far,
      nearPrompt: job.near,
      filter,
      rng,
      guidanceScale: job.guidance,
      ...sampler,
      onStep,
    }),
  );
  const upscaled =
    up && sampler2 && filter2
      ? await replaying(async () => {
          const stage = await stageIIFor(model, result.image, 0, up, rng);
          const r = await hybrid(stage, stage.initial, {
            farPrompt: job.far,
            nearPrompt: job.near,
            filter: filter2,
            rng,
            guidanceScale: up.guidance,
            ...sampler2,
            progressEvery: 0,
            onStep,
          });
          return r.image;
        })
      : undefined;
  const stageII = upscaled
    ? [
        { name: 'upscaled.png', bytes: (await imagePngs(upscaled, 'upscaled'))[0]!.bytes, role: 'image' as const },
        { name: 'upscaled-sizes.png', bytes: await hybridSizesPng(upscaled), role: 'views' as const },
      ]
    : [];
  const files = [
    ...(upscaled ? await imagePngs(result.image) : withRole(await imagePngs(result.image), 'image-large.png', 'image')),
    { name: 'sizes.png', bytes: await hybridSizesPng(result.image), ...(upscaled ? {} : { role: 'views' as const }) },
    ...stageII,
    { name: 'animation.gif', bytes: await hybridZoomAnimation(result.image), role: 'animation' as const },
    { name: 'progression.png', bytes: await stripPng(progressionRows(result.progression, result.image)) },
  ];
  return {
    job: {
      command: 'hybrid',
      model: model.id,
      source: model.source,
      ...job,
      filter,
      ...(up ? { upscaled: { ...upscaleRecord(model), filter: filter2 } } : {}),
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
