// `denoise`: the write-up's comparison at each noise level t (A.1.1–A.1.4): the input noised by the forward
// process, then denoised by Gaussian blur, one model step, and iterative denoising from t.
import { Rng } from '../random.js';
import { gaussianBlur } from '../sampling/blur.js';
import { forward } from '../sampling/forward.js';
import { iterativeDenoise, type ProgressFrame } from '../sampling/iterative.js';
import { oneStepDenoise } from '../sampling/one-step.js';
import type { Tensor } from '../tensor.js';
import { InputError } from '../errors.js';
import { prepareImage, type ImageSource } from './inputs.js';
import type { LoadedModel, ModelEntry } from '../models/registry.js';
import { progressionAnimation } from './animation.js';
import {
  imagePngs,
  progressionRows,
  stepCounter,
  stripPng,
  type OutputFile,
  type RunOptions,
  type StripCell,
  type TechniqueResult,
} from './outputs.js';
import { timestepsForSteps, timestepsFrom } from './timesteps.js';

export const DENOISE_METHODS = ['blur', 'one-step', 'iterative'] as const;
export type DenoiseMethod = (typeof DENOISE_METHODS)[number];
export const DEFAULT_DENOISE_TS = [250, 500, 750] as const;
export const MAX_TS = 10;
/** The schedule has T = 1000 steps; t = 0 would add no noise. */
const T_MAX = 999;

export interface DenoiseJob {
  image: ImageSource;
  ts: number[];
  methods: DenoiseMethod[];
  /** Prompt of the model's estimates (the neutral prompt by default). */
  prompt: string;
  /** Sets the stride of iterative denoising below t. */
  steps: number;
  seed: number;
}

/** 'blur' | 'one-step' | 'iterative' | 'all' → methods. */
export function parseDenoiseMethod(text: string): DenoiseMethod[] {
  if (text === 'all') return [...DENOISE_METHODS];
  if ((DENOISE_METHODS as readonly string[]).includes(text)) return [text as DenoiseMethod];
  throw new InputError(`unknown method "${text}"; allowed: ${DENOISE_METHODS.join(', ')}, all`);
}

export function checkDenoise(model: ModelEntry, job: Omit<DenoiseJob, 'image'>): void {
  model.checkPrompt(job.prompt, 'prompt');
  timestepsForSteps(job.steps);
  if (job.ts.length < 1 || job.ts.length > MAX_TS)
    throw new InputError(`give 1 to ${MAX_TS} noise levels t, got ${job.ts.length}`);
  for (const t of job.ts) {
    if (!Number.isInteger(t) || t < 1 || t > T_MAX)
      throw new InputError(`noise level t must be an integer from 1 to ${T_MAX}, got ${t}`);
  }
  if (job.methods.length === 0) throw new InputError(`give a method: ${DENOISE_METHODS.join(', ')} or all`);
}

const LABELS: Record<DenoiseMethod, string> = { blur: 'blur', 'one-step': 'one-step', iterative: 'iterative' };

/** One row per t: original, noisy, then each method's estimate of the original. */
export async function runDenoise(model: LoadedModel, job: DenoiseJob, opts: RunOptions = {}): Promise<TechniqueResult> {
  checkDenoise(model.entry, job);
  const started = performance.now();
  const { denoiser } = model;
  const input = await prepareImage(job.image, denoiser.imageShape);
  const x0 = input.x;
  const rng = new Rng(job.seed);
  const rows: StripCell[][] = [];
  const progressions: Array<{ progression: ProgressFrame[]; image: Tensor }> = [];
  // Only iterative denoising takes steps worth reporting; the other methods are one call each.
  const total = job.methods.includes('iterative')
    ? job.ts.reduce((n, t) => n + timestepsFrom(t, job.steps).length - 1, 0)
    : 0;
  const onStep = stepCounter(total, opts.onStep);
  for (const t of job.ts) {
    const { xt } = forward(denoiser.schedule, x0, t, rng);
    const row: StripCell[] = [
      { image: x0, label: 'original' },
      { image: xt, label: `noisy t=${t}` },
    ];
    for (const m of job.methods) {
      let estimate: Tensor;
      if (m === 'blur') estimate = gaussianBlur(xt);
      else if (m === 'one-step') estimate = await oneStepDenoise(denoiser, xt, t, { prompt: job.prompt });
      else {
        const r = await iterativeDenoise(denoiser, xt, {
          prompt: job.prompt,
          rng,
          timesteps: timestepsFrom(t, job.steps),
          onStep,
        });
        progressions.push(r);
        estimate = r.image;
      }
      row.push({ image: estimate, label: LABELS[m] });
    }
    rows.push(row);
  }
  const files: OutputFile[] = [
    { name: 'image.png', bytes: await stripPng(rows, { scale: 1, labels: false }) },
    { name: 'image-large.png', bytes: await stripPng(rows, { labels: false }) },
    { name: 'figure.png', bytes: await stripPng(rows), role: 'image' },
    ...(await imagePngs(x0, 'input')).slice(0, 1),
  ];
  if (progressions.length) {
    files.push({
      name: 'progression.png',
      bytes: await stripPng(progressions.flatMap((p) => progressionRows(p.progression, p.image))),
    });
    files.push({
      name: 'progression.gif',
      bytes: progressionAnimation(progressions[0]!.progression, progressions[0]!.image),
      role: 'animation',
    });
  }
  const { image: _image, ...params } = job;
  return {
    job: {
      command: 'denoise',
      model: model.id,
      source: model.source,
      input: input.description,
      ...params,
      seconds: (performance.now() - started) / 1000,
    },
    files,
  };
}
