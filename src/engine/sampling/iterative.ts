// Iterative denoising over strided timesteps (write-up A.1.4/A.1.5, eq. A.3), from any i_start, written once
// for every technique: techniques differ only in their noise estimator and an optional per-step hook.
import type { Conditioning, Denoiser, Prediction } from '../denoisers/denoiser.js';
import type { NoiseSource } from '../random.js';
import type { NoiseSchedule } from '../schedules/noise-schedule.js';
import { checkIStart, stridedTimesteps } from '../schedules/timesteps.js';
import { learnedRangeLogVariance, stepCoefficients } from '../schedules/variance.js';
import { axpby, scale, tensor, type Tensor } from '../tensor.js';
import { predictOriginal } from './one-step.js';
import { threshold, type Thresholding } from './thresholding.js';

/** ε̂ (and variance) for the current x_t; CFG, anagrams and hybrids are estimators. */
export type Estimator = (xt: Tensor, t: number) => Promise<Prediction>;

export interface ProgressFrame {
  /** Index into the timestep list and the timestep of `x`. */
  i: number;
  t: number;
  x: Tensor;
}

export interface LoopOptions {
  /**
   * Every Gaussian draw of the technique (initial noise, forward noise, each step's variance noise):
   * the job's seeded Rng, or a recorded stream (ReplayNoise) to replay another run.
   */
  rng: NoiseSource;
  /** What each step does to x̂0 before its mean: nothing (the write-up's loop, default) or diffusers' thresholding. */
  thresholding?: Thresholding | undefined;
  /**
   * diffusers' loop: after the last interval, denoise once more at the last timestep, to t′ = −1
   * (ᾱ = 1: the result is that step's x̂0, thresholded if thresholding is on). The write-up's loop stops
   * at the last timestep (default false).
   */
  finalStep?: boolean | undefined;
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

/** Per-step hook applied to x_t′ (inpainting's re-noised original); t′ is −1 after diffusers' final step. */
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
  const last = timesteps.length - 1 + (opts.finalStep ? 1 : 0);
  const progression: ProgressFrame[] = [];
  for (let i = iStart; i < last; i++) {
    const t = timesteps[i]!;
    const tPrev = timesteps[i + 1] ?? -1;
    if (every > 0 && (i - iStart) % every === 0) progression.push({ i, t, x });
    const pred = await estimate(x, t);
    const c = stepCoefficients(schedule, t, tPrev);
    let x0 = predictOriginal(schedule, x, t, pred.eps);
    if (opts.thresholding) x0 = threshold(x0, opts.thresholding);
    const mean = axpby(c.x0Coef, x0, c.xtCoef, x);
    // As diffusers: no noise is drawn at t = 0 (only the final step can reach it).
    x =
      t > 0
        ? axpby(
            1,
            mean,
            1,
            varianceNoise(
              schedule,
              t,
              tPrev,
              pred,
              opts.rng.draw(x.shape, `the variance noise of the step at t = ${t}`),
            ),
          )
        : mean;
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

/** Pure noise x_T for `batch` images of the denoiser's shape, drawn from the job's noise source. */
export function initialNoise(denoiser: Denoiser, batch: number, rng: NoiseSource): Tensor {
  return rng.draw([batch, ...denoiser.imageShape], 'the initial noise');
}

/** Steps the loop takes from timesteps[iStart] (what onStep counts). */
export function loopSteps(timesteps: readonly number[], opts: Pick<LoopOptions, 'iStart' | 'finalStep'> = {}): number {
  return timesteps.length - 1 - (opts.iStart ?? 0) + (opts.finalStep ? 1 : 0);
}
