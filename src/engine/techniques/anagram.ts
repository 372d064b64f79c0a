// `anagram`: visual anagrams (A.1.8): one image that shows prompt 1 as is and prompt j through view j;
// writes the image, a strip of every view captioned with its prompt, and a GIF of the illusion turning.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { jobNoise, replaying } from './noise.js';
import { anagram } from '../sampling/anagram.js';
import { initialNoise, loopSteps } from '../sampling/iterative.js';
import { createView, isViewName, VIEW_NAMES } from '../views/registry.js';
import type { View } from '../views/view.js';
import { anagramAnimation } from './animation.js';
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

export interface AnagramJob {
  /** Two or three prompts; prompt 1 is seen as is. */
  prompts: string[];
  /** The views of prompts 2 (and 3); view 1 is always the identity. */
  views: string[];
  /** skew: largest column displacement in pixels (default 50 at 64 px, scaled). */
  maxDisp?: number;
  steps: number;
  guidance: number;
  seed: number;
  /** 'dynamic' / 'clip': diffusers' IF scheduler (samplerFor); absent: the write-up's loop. */
  thresholding?: ThresholdingMode | undefined;
  /** A recorded noise file to replay instead of the seed's draws. */
  noise?: string | undefined;
}

/** The identity then the named views, for the model's image size. */
export function anagramViews(model: ModelEntry, job: Pick<AnagramJob, 'prompts' | 'views' | 'maxDisp'>): View[] {
  const [, height, width] = model.shape;
  if (job.prompts.length < 2 || job.prompts.length > 3)
    throw new InputError(`an anagram takes 2 or 3 prompts, got ${job.prompts.length}`);
  if (job.views.length !== job.prompts.length - 1) {
    throw new InputError(
      `${job.prompts.length} prompts need ${job.prompts.length - 1} view${job.prompts.length > 2 ? 's' : ''} (the first prompt is seen as is), got ${job.views.length}: e.g. ${job.prompts.length > 2 ? 'rotate_cw, rotate_ccw' : 'flip'}`,
    );
  }
  for (const v of job.views)
    if (!isViewName(v)) throw new InputError(`unknown view "${v}"; allowed: ${VIEW_NAMES.join(', ')}`);
  if (job.maxDisp !== undefined && (!Number.isInteger(job.maxDisp) || job.maxDisp < 1 || job.maxDisp > width)) {
    throw new InputError(`max_disp must be an integer from 1 to ${width} (the image width), got ${job.maxDisp}`);
  }
  const ctx = { height, width, ...(job.maxDisp !== undefined ? { maxDisp: job.maxDisp } : {}) };
  return [createView('identity', ctx), ...job.views.map((v) => createView(v, ctx))];
}

export function checkAnagram(model: ModelEntry, job: AnagramJob): View[] {
  job.prompts.forEach((p, i) => {
    model.checkPrompt(p, `prompt${i + 1}`);
  });
  samplerFor(job.steps, job.thresholding);
  return anagramViews(model, job);
}

export async function runAnagram(model: LoadedModel, job: AnagramJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  const views = checkAnagram(model.entry, job);
  const started = performance.now();
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const rng = noise.rng;
  const result = await replaying(() =>
    anagram(model.denoiser, initialNoise(model.denoiser, 1, rng), {
      prompts: job.prompts,
      views,
      rng,
      guidanceScale: job.guidance,
      ...sampler,
      onStep: stepCounter(loopSteps(sampler.timesteps, sampler), opts.onStep),
    }),
  );
  const captions = job.prompts.map((p, i) => `${views[i]!.name}: ${p}`);
  const files = [
    ...withRole(await imagePngs(result.image), 'image-large.png', 'image'),
    {
      name: 'views.png',
      bytes: await stripPng([views.map((v, i) => ({ image: v.view(result.image), label: captions[i]! }))]),
      role: 'views' as const,
    },
    { name: 'animation.gif', bytes: await anagramAnimation(result.image, views, captions), role: 'animation' as const },
    { name: 'progression.png', bytes: await stripPng(progressionRows(result.progression, result.image)) },
  ];
  return {
    job: {
      command: 'anagram',
      model: model.id,
      source: model.source,
      ...job,
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
