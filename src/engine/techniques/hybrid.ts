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
}

/** The low-pass: the scaled default, or σ with the default's kernel-to-σ ratio (33 taps at σ 2). */
export function hybridLowPass(model: ModelEntry, sigma?: number): { sigma: number; kernelSize: number } {
  const [, h, w] = model.shape;
  if (sigma === undefined) return hybridFilter(Math.min(h, w));
  const k = Math.max(defaultKernelSize(sigma), Math.round(16 * sigma) + 1);
  return { sigma, kernelSize: k % 2 === 1 ? k : k + 1 };
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
}

export async function runHybrid(model: LoadedModel, job: HybridJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  checkHybrid(model.entry, job);
  const started = performance.now();
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const rng = noise.rng;
  const filter = hybridLowPass(model.entry, job.sigma);
  const result = await replaying(() =>
    hybrid(model.denoiser, initialNoise(model.denoiser, 1, rng), {
      farPrompt: job.far,
      nearPrompt: job.near,
      filter,
      rng,
      guidanceScale: job.guidance,
      ...sampler,
      onStep: stepCounter(loopSteps(sampler.timesteps, sampler), opts.onStep),
    }),
  );
  const files = [
    ...withRole(await imagePngs(result.image), 'image-large.png', 'image'),
    { name: 'sizes.png', bytes: await hybridSizesPng(result.image), role: 'views' as const },
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
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
