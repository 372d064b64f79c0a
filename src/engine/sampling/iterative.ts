// Iterative denoising over strided timesteps (write-up A.1.4/A.1.5, eq. A.3), from any i_start, written once
// for every technique: techniques differ only in their noise estimator and an optional per-step hook.
import type { Conditioning, Denoiser, Prediction } from '../denoisers/denoiser.js';
import type { Rng } from '../random.js';
import type { NoiseSchedule } from '../schedules/noise-schedule.js';
import { checkIStart, stridedTimesteps } from '../schedules/timesteps.js';
import { learnedRangeLogVariance, stepCoefficients } from '../schedules/variance.js';
import { axpby, randn, scale, tensor, type Tensor } from '../tensor.js';
import { predictOriginal } from './one-step.js';

/** ε̂ (and variance) for the current x_t; CFG, anagrams and hybrids are estimators. */
export type Estimator = (xt: Tensor, t: number) => Promise<Prediction>;

export interface ProgressFrame {
  /** Index into the timestep list and the timestep of `x`. */
  i: number;
  t: number;
  x: Tensor;
}

export interface LoopOptions {
  /** Generator of the variance noise; the job's seed fixes it. */
  rng: Rng;
  /** Descending timesteps, default 990, 960, …, 0. */
  timesteps?: readonly number[];
  /** Index of x's timestep in `timesteps`; default 0 (pure noise). */
  iStart?: number;
  /** Keep x_t every this many steps (the write-up shows every 5th); 0 keeps none. Default 5. */
  progressEvery?: number;
  /**
   * Called after every step, e.g. for live previews; awaited, so a job host can make it a yield
   * point (report progress, stop a cancelled job) between model calls.
   */
  onStep?: (frame: ProgressFrame) => void | Promise<void>;
}

export interface SampleResult {
  image: Tensor;
  /** x_t every `progressEvery` steps, starting with the input. */
  progression: ProgressFrame[];
}

/** Per-step hook applied to x_t′ (inpainting's re-noised original). */
export type StepHook = (x: Tensor, tPrev: number) => Tensor;

/** exp(½·log σ²)·z, elementwise. */
function logVarNoise(logVar: Tensor, z: Tensor): Tensor {
  const out = new Float32Array(z.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.exp(0.5 * logVar.data[i]!) * z.data[i]!;
  return tensor(z.shape, out);
}

/** The variance term v_σ of A.3: learned_range if the model gives v, its log σ² if it gives one, else β̃. */
export function varianceNoise(schedule: NoiseSchedule, t: number, tPrev: number, pred: Prediction, z: Tensor): Tensor {
  if (pred.varianceValues) return logVarNoise(learnedRangeLogVariance(schedule, t, tPrev, pred.varianceValues), z);
  if (pred.logVar) return logVarNoise(pred.logVar, z);
  return scale(z, Math.sqrt(stepCoefficients(schedule, t, tPrev).posteriorVariance));
}

/**
 * The write-up's sampler (A.3): x_t′ = √ᾱ_t′·β/(1 − ᾱ_t)·x̂0 + √α·(1 − ᾱ_t′)/(1 − ᾱ_t)·x_t + v_σ,
 * from timesteps[iStart] down to the last timestep.
 */
export async function denoiseLoop(
  schedule: NoiseSchedule,
  estimate: Estimator,
  x: Tensor,
  opts: LoopOptions,
  hook?: StepHook,
): Promise<SampleResult> {
  const timesteps = opts.timesteps ?? stridedTimesteps();
  const iStart = opts.iStart ?? 0;
  const every = opts.progressEvery ?? 5;
  checkIStart(timesteps, iStart);
  const progression: ProgressFrame[] = [];
  for (let i = iStart; i < timesteps.length - 1; i++) {
    const t = timesteps[i]!;
    const tPrev = timesteps[i + 1]!;
    if (every > 0 && (i - iStart) % every === 0) progression.push({ i, t, x });
    const pred = await estimate(x, t);
    const c = stepCoefficients(schedule, t, tPrev);
    const x0 = predictOriginal(schedule, x, t, pred.eps);
    const mean = axpby(c.x0Coef, x0, c.xtCoef, x);
    x = axpby(1, mean, 1, varianceNoise(schedule, t, tPrev, pred, randn(x.shape, opts.rng)));
    if (hook) x = hook(x, tPrev);
    await opts.onStep?.({ i: i + 1, t: tPrev, x });
  }
  return { image: x, progression };
}

/** The rows [0 ×B, 1 ×B, …, k−1 ×B]: prompt j conditions the j-th block of B images. */
export function blockRows(blocks: readonly number[], batch: number): number[] {
  return blocks.flatMap((j) => new Array<number>(batch).fill(j));
}

/** Conditional estimator without guidance (A.1.4). */
export function conditionalEstimator(denoiser: Denoiser, cond: Conditioning): Estimator {
  return (xt, t) => denoiser.predict(xt, t, cond);
}

export interface IterativeOptions extends LoopOptions {
  prompt: string;
}

/** Iterative denoising of x (at timesteps[iStart]) with one prompt and no guidance (A.1.4, A.1.5). */
export async function iterativeDenoise(denoiser: Denoiser, x: Tensor, opts: IterativeOptions): Promise<SampleResult> {
  const cond = (await denoiser.encode([opts.prompt])).take(blockRows([0], x.shape[0]));
  return denoiseLoop(denoiser.schedule, conditionalEstimator(denoiser, cond), x, opts);
}

/** Pure noise x_T for `batch` images of the denoiser's shape, drawn from the job's generator. */
export function initialNoise(denoiser: Denoiser, batch: number, rng: Rng): Tensor {
  return randn([batch, ...denoiser.imageShape], rng);
}
