// Forward process of DDPM (write-up A.1.1, eq. A.2): x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε, ε ~ N(0, I).
import type { NoiseSource } from '../random.js';
import { alphaBarAt, type NoiseSchedule } from '../schedules/noise-schedule.js';
import { axpby, type Tensor } from '../tensor.js';

/** x_t for a given ε (deterministic; inpainting re-noises the original with fresh ε each step). */
export function addNoise(schedule: NoiseSchedule, x0: Tensor, t: number, eps: Tensor): Tensor {
  const a = alphaBarAt(schedule, t);
  return axpby(Math.sqrt(a), x0, Math.sqrt(1 - a), eps);
}

/** Noises a clean image to timestep t; returns the noise too (one-step denoising compares with it). */
export function forward(schedule: NoiseSchedule, x0: Tensor, t: number, rng: NoiseSource): { xt: Tensor; eps: Tensor } {
  const eps = rng.draw(x0.shape, `the forward noise to t = ${t}`);
  return { xt: addNoise(schedule, x0, t, eps), eps };
}
