// `anagram`: visual anagrams (A.1.8): one image that shows prompt 1 as is and prompt j through view j;
// writes the image, a strip of every view captioned with its prompt, and a GIF of the illusion turning.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { jobNoise, replaying } from './noise.js';
import { anagram } from '../sampling/anagram.js';
import { initialNoise, loopSteps } from '../sampling/iterative.js';
import { createView, isViewName, VIEW_NAMES } from '../views/registry.js';
import type { View } from '../views/view.js';
import type { Tensor } from '../tensor.js';
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
import { checkUpscale, stageIIFor, UPSCALE_FACTOR, upscaleRecord, upscaleSampler, type UpscaleJob } from './upscale.js';

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
  /** Stage II: the anagram loop again at ×4 with the same views (visual_anagrams' sample_stage_2). */
  upscale?: UpscaleJob | undefined;
}

/**
 * The identity then the named views, for the model's image size times `scale` (stage II: 4; max_disp,
 * given in the model's pixels, scales with it; pixel_permute then moves blocks in the 64 px order).
 */
export function anagramViews(
  model: ModelEntry,
  job: Pick<AnagramJob, 'prompts' | 'views' | 'maxDisp'>,
  scale = 1,
): View[] {
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
  const ctx = {
    height: height * scale,
    width: width * scale,
    ...(job.maxDisp !== undefined ? { maxDisp: job.maxDisp * scale } : {}),
  };
  return [createView('identity', ctx), ...job.views.map((v) => createView(v, ctx))];
}

export function checkAnagram(model: ModelEntry, job: AnagramJob): View[] {
  job.prompts.forEach((p, i) => {
    model.checkPrompt(p, `prompt${i + 1}`);
  });
  samplerFor(job.steps, job.thresholding);
  checkUpscale(model, job.upscale, job.thresholding);
  return anagramViews(model, job);
}

export async function runAnagram(model: LoadedModel, job: AnagramJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  const views = checkAnagram(model.entry, job);
  const started = performance.now();
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const rng = noise.rng;
  const up = job.upscale;
  const sampler2 = up ? upscaleSampler(up, job.thresholding) : undefined;
  const onStep = stepCounter(
    loopSteps(sampler.timesteps, sampler) + (sampler2 ? loopSteps(sampler2.timesteps, sampler2) : 0),
    opts.onStep,
  );
  const result = await replaying(() =>
    anagram(model.denoiser, initialNoise(model.denoiser, 1, rng), {
      prompts: job.prompts,
      views,
      rng,
      guidanceScale: job.guidance,
      ...sampler,
      onStep,
    }),
  );
  // Stage II's views: the same ones at 4× (pixel_permute by 4×4 blocks, max-disp ×4).
  const views2 = up ? anagramViews(model.entry, job, UPSCALE_FACTOR) : [];
  const upscaled =
    up && sampler2
      ? await replaying(async () => {
          const stage = await stageIIFor(model, result.image, 0, up, rng);
          const r = await anagram(stage, stage.initial, {
            prompts: job.prompts,
            views: views2,
            rng,
            guidanceScale: up.guidance,
            ...sampler2,
            progressEvery: 0,
            onStep,
          });
          return r.image;
        })
      : undefined;
  const captions = job.prompts.map((p, i) => `${views[i]!.name}: ${p}`);
  const viewsStrip = (image: Tensor, vs: readonly View[]): Promise<Buffer> =>
    stripPng([vs.map((v, i) => ({ image: v.view(image), label: captions[i]! }))]);
  const stageII = upscaled
    ? [
        { name: 'upscaled.png', bytes: (await imagePngs(upscaled, 'upscaled'))[0]!.bytes, role: 'image' as const },
        {
          name: 'upscaled-views.png',
          bytes: await viewsStrip(upscaled, views2),
          role: 'views' as const,
        },
      ]
    : [];
  const files = [
    ...(upscaled ? await imagePngs(result.image) : withRole(await imagePngs(result.image), 'image-large.png', 'image')),
    {
      name: 'views.png',
      bytes: await viewsStrip(result.image, views),
      ...(upscaled ? {} : { role: 'views' as const }),
    },
    ...stageII,
    { name: 'animation.gif', bytes: await anagramAnimation(result.image, views, captions), role: 'animation' as const },
    { name: 'progression.png', bytes: await stripPng(progressionRows(result.progression, result.image)) },
  ];
  return {
    job: {
      command: 'anagram',
      model: model.id,
      source: model.source,
      ...job,
      ...(up ? { upscaled: upscaleRecord(model) } : {}),
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
