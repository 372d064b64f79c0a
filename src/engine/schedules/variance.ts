// The per-step quantities of the write-up's update (A.3) from t to the next strided t′: step coefficients,
// the DDPM posterior variance β̃, and DeepFloyd's `learned_range` log-variance from its variance channels.
import { tensor, type Tensor } from '../tensor.js';
import { alphaBarAt, type NoiseSchedule } from './noise-schedule.js';

export interface StepCoefficients {
  alphaBar: number;
  alphaBarPrev: number;
  /** α = ᾱ_t / ᾱ_t′ (the strided step's α). */
  alpha: number;
  /** β = 1 − α. */
  beta: number;
  /** Coefficient of x̂0 in A.3: √ᾱ_t′·β / (1 − ᾱ_t). */
  x0Coef: number;
  /** Coefficient of x_t in A.3: √α·(1 − ᾱ_t′) / (1 − ᾱ_t). */
  xtCoef: number;
  /** β̃ = (1 − ᾱ_t′)/(1 − ᾱ_t)·β, clamped ≥ 1e-20 as in diffusers. */
  posteriorVariance: number;
}

/** t′ = −1 is "past the last timestep" (diffusers' final step): ᾱ_t′ = 1, the step lands on x̂0. */
export const PAST_LAST = -1;

export function stepCoefficients(schedule: NoiseSchedule, t: number, tPrev: number): StepCoefficients {
  if (!(tPrev < t)) throw new RangeError(`a denoising step goes to a smaller timestep, got t ${t} → t′ ${tPrev}`);
  const alphaBar = alphaBarAt(schedule, t);
  const alphaBarPrev = tPrev === PAST_LAST ? 1 : alphaBarAt(schedule, tPrev);
  const alpha = alphaBar / alphaBarPrev;
  const beta = 1 - alpha;
  return {
    alphaBar,
    alphaBarPrev,
    alpha,
    beta,
    x0Coef: (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar),
    xtCoef: (Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar),
    posteriorVariance: Math.max(((1 - alphaBarPrev) / (1 - alphaBar)) * beta, 1e-20),
  };
}

/**
 * learned_range (Nichol & Dhariwal 2021, eq. 15): the model outputs v ∈ [−1, 1] per pixel and
 * log σ² = frac·log β + (1 − frac)·log β̃ with frac = (v + 1)/2, for the current step t → t′.
 */
export function learnedRangeLogVariance(schedule: NoiseSchedule, t: number, tPrev: number, v: Tensor): Tensor {
  const { beta, posteriorVariance } = stepCoefficients(schedule, t, tPrev);
  const maxLog = Math.log(beta);
  const minLog = Math.log(posteriorVariance);
  const out = new Float32Array(v.data.length);
  for (let i = 0; i < out.length; i++) {
    const frac = (v.data[i]! + 1) / 2;
    out[i] = frac * maxLog + (1 - frac) * minLog;
  }
  return tensor(v.shape, out);
}
