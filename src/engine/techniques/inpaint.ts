// `inpaint`: repaints where the mask is white (A.1.7.2): after every step the pixels outside the mask are
// replaced by the input noised to the same t, so they end exactly equal to the input.
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { loopSteps } from '../sampling/iterative.js';
import { jobNoise, replaying } from './noise.js';
import { inpaint } from '../sampling/inpaint.js';
import { tensor, type Tensor } from '../tensor.js';
import { prepareImage, prepareMask, type ImageSource, type MaskSource } from './inputs.js';
import type { LoadedModel, ModelEntry } from '../models/registry.js';
import { progressionAnimation } from './animation.js';
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

export interface InpaintJob {
  image: ImageSource;
  mask: MaskSource;
  prompt: string;
  steps: number;
  guidance: number;
  seed: number;
  /** 'dynamic' / 'clip': diffusers' IF scheduler (samplerFor); absent: the write-up's loop. */
  thresholding?: ThresholdingMode | undefined;
  /** A recorded noise file to replay instead of the seed's draws. */
  noise?: string | undefined;
}

export async function checkInpaint(model: ModelEntry, job: Omit<InpaintJob, 'image'>): Promise<Tensor> {
  model.checkPrompt(job.prompt, 'prompt');
  samplerFor(job.steps, job.thresholding);
  return prepareMask(job.mask, model.shape);
}

/** The mask as an image in [−1, 1] with the input's channels (white = repainted). */
function maskImage(mask: Tensor, channels: number): Tensor {
  const [, , h, w] = mask.shape;
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++)
    out.set(
      mask.data.map((m) => 2 * m - 1),
      c * h * w,
    );
  return tensor([1, channels, h, w], out);
}

export async function runInpaint(model: LoadedModel, job: InpaintJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  const mask = await checkInpaint(model.entry, job);
  const started = performance.now();
  // Not re-centred, so the mask (drawn on the upload, or a box) covers the pixels it was drawn on.
  const input = await prepareImage(job.image, model.denoiser.imageShape, { centerDigit: false });
  const sampler = samplerFor(job.steps, job.thresholding);
  const noise = jobNoise(job.seed, job.noise);
  const result = await replaying(() =>
    inpaint(model.denoiser, input.x, mask, {
      prompt: job.prompt,
      rng: noise.rng,
      guidanceScale: job.guidance,
      ...sampler,
      onStep: stepCounter(loopSteps(sampler.timesteps, sampler), opts.onStep),
    }),
  );
  const c = input.x.shape[1];
  const files = [
    ...withRole(await imagePngs(result.image), 'image-large.png', 'image'),
    {
      name: 'strip.png',
      bytes: await stripPng([
        [
          { image: input.x, label: 'input' },
          { image: maskImage(mask, c), label: 'mask' },
          { image: result.image, label: 'result' },
        ],
      ]),
      role: 'views' as const,
    },
    ...(await imagePngs(input.x, 'input')).slice(0, 1),
    { name: 'progression.png', bytes: await stripPng(progressionRows(result.progression, result.image)) },
    {
      name: 'progression.gif',
      bytes: progressionAnimation(result.progression, result.image),
      role: 'animation' as const,
    },
  ];
  const { image: _image, mask: maskSource, ...params } = job;
  return {
    job: {
      command: 'inpaint',
      model: model.id,
      source: model.source,
      input: input.description,
      mask: 'box' in maskSource ? { box: maskSource.box } : { image: maskSource.name ?? 'mask' },
      ...params,
      ...(noise.record() ? { noise: noise.record() } : {}),
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
