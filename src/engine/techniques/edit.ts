// `edit`: SDEdit image-to-image (A.1.7): the input noised to timesteps[i_start] and denoised with CFG,
// one edit per i_start; a higher i_start adds less noise and stays closer to the input.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { jobNoise, replaying } from './noise.js';
import { sdedit } from '../sampling/sdedit.js';
import { InputError } from '../errors.js';
import { prepareImage, type ImageSource } from './inputs.js';
import type { LoadedModel, ModelEntry } from '../models/registry.js';
import { progressionAnimation } from './animation.js';
import {
  imagePngs,
  progressionRows,
  stepCounter,
  stripPng,
  type StripCell,
  type RunOptions,
  type TechniqueResult,
} from './outputs.js';
import { checkIStarts, samplerFor } from './timesteps.js';

export const MAX_EDITS = 12;

export interface EditJob {
  image: ImageSource;
  iStarts: number[];
  prompt: string;
  steps: number;
  guidance: number;
  seed: number;
  /** 'dynamic' / 'clip': diffusers' IF scheduler (samplerFor); absent: the write-up's loop. */
  thresholding?: ThresholdingMode | undefined;
  /** A recorded noise file to replay instead of the seed's draws. */
  noise?: string | undefined;
}

export function checkEdit(model: ModelEntry, job: Omit<EditJob, 'image'>): void {
  model.checkPrompt(job.prompt, 'prompt');
  if (job.iStarts.length < 1 || job.iStarts.length > MAX_EDITS)
    throw new InputError(`give 1 to ${MAX_EDITS} i_start values, got ${job.iStarts.length}`);
  checkIStarts(job.iStarts, samplerFor(job.steps, job.thresholding).timesteps);
}

/** image.png is the row of edits at native size; strip.png shows the input and each edit captioned. */
export async function runEdit(model: LoadedModel, job: EditJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  checkEdit(model.entry, job);
  const started = performance.now();
  const input = await prepareImage(job.image, model.denoiser.imageShape);
  const sampler = samplerFor(job.steps, job.thresholding);
  const { timesteps } = sampler;
  const noise = jobNoise(job.seed, job.noise);
  const total = job.iStarts.reduce((n, i) => n + timesteps.length - 1 - i + (sampler.finalStep ? 1 : 0), 0);
  const results = await replaying(() =>
    sdedit(model.denoiser, input.x, {
      prompt: job.prompt,
      rng: noise.rng,
      guidanceScale: job.guidance,
      iStarts: job.iStarts,
      ...sampler,
      onStep: stepCounter(total, opts.onStep),
    }),
  );
  const last = results.at(-1)!;
  const edits: StripCell[] = results.map((r) => ({ image: r.image, label: `i_start=${r.iStart} (t=${r.t})` }));
  const files = [
    { name: 'image.png', bytes: await stripPng([edits], { scale: 1, labels: false }) },
    { name: 'image-large.png', bytes: await stripPng([edits], { labels: false }), role: 'image' as const },
    {
      name: 'strip.png',
      bytes: await stripPng([[{ image: input.x, label: 'input' }, ...edits]]),
      role: 'views' as const,
    },
    ...(await imagePngs(input.x, 'input')).slice(0, 1),
    { name: 'progression.png', bytes: await stripPng(results.flatMap((r) => progressionRows(r.progression, r.image))) },
    { name: 'progression.gif', bytes: progressionAnimation(last.progression, last.image), role: 'animation' as const },
  ];
  const { image: _image, ...params } = job;
  return {
    job: {
      command: 'edit',
      model: model.id,
      source: model.source,
      input: input.description,
      ...params,
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
