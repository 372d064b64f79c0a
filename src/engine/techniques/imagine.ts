// `imagine`: text-to-image with classifier-free guidance (A.1.5/A.1.6) from pure noise drawn from the
// job's seed; writes the image(s), their upscale and the progression every 5th step.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { loopSteps } from '../sampling/iterative.js';
import { jobNoise, replaying } from './noise.js';
import { imagine } from '../sampling/cfg.js';
import { sliceBatch } from '../tensor.js';
import { InputError } from '../errors.js';
import type { LoadedModel, ModelEntry } from '../models/registry.js';
import { progressionAnimation } from './animation.js';
import {
  imagePngs,
  progressionRows,
  stepCounter,
  stripPng,
  type OutputFile,
  type RunOptions,
  type TechniqueResult,
} from './outputs.js';
import { samplerFor } from './timesteps.js';

export const MAX_COUNT = 16;

export interface ImagineJob {
  prompt: string;
  steps: number;
  guidance: number;
  count: number;
  seed: number;
  /** 'dynamic' / 'clip': diffusers' IF scheduler (samplerFor); absent: the write-up's loop. */
  thresholding?: ThresholdingMode | undefined;
  /** A recorded noise file to replay instead of the seed's draws. */
  noise?: string | undefined;
}

/** Checks the job for a model before loading it. */
export function checkImagine(model: ModelEntry, job: ImagineJob): void {
  model.checkPrompt(job.prompt, 'prompt');
  samplerFor(job.steps, job.thresholding);
  if (!Number.isInteger(job.count) || job.count < 1 || job.count > MAX_COUNT)
    throw new InputError(`count must be an integer from 1 to ${MAX_COUNT}, got ${job.count}`);
}

/**
 * One batch of `count` images. count 1: image.png is the image; more: image.png is a row of all of them
 * and image-<k>.png each one.
 */
export async function runImagine(model: LoadedModel, job: ImagineJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  checkImagine(model.entry, job);
  const started = performance.now();
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const result = await replaying(() =>
    imagine(model.denoiser, {
      prompt: job.prompt,
      rng: noise.rng,
      guidanceScale: job.guidance,
      batch: job.count,
      ...sampler,
      onStep: stepCounter(loopSteps(sampler.timesteps, sampler), opts.onStep),
    }),
  );
  const files: OutputFile[] = [];
  if (job.count === 1) files.push(...(await imagePngs(result.image)));
  else {
    const row = [Array.from({ length: job.count }, (_, b) => ({ image: result.image, b }))];
    files.push({ name: 'image.png', bytes: await stripPng(row, { scale: 1, labels: false }) });
    files.push({ name: 'image-large.png', bytes: await stripPng(row, { labels: false }) });
    for (let b = 0; b < job.count; b++)
      files.push(...(await imagePngs(sliceBatch(result.image, b, b + 1), `image-${b + 1}`)).slice(0, 1));
  }
  files.find((f) => f.name === 'image-large.png')!.role = 'image';
  files.push({ name: 'progression.png', bytes: await stripPng(progressionRows(result.progression, result.image)) });
  files.push({
    name: 'progression.gif',
    bytes: progressionAnimation(result.progression, result.image),
    role: 'animation',
  });
  return {
    job: {
      command: 'imagine',
      model: model.id,
      source: model.source,
      ...job,
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
