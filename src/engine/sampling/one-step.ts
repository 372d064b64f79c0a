// One-step denoising (write-up A.1.3): x̂0 = (x_t − √(1 − ᾱ_t)·ε̂) / √ᾱ_t from a single noise estimate.
import type { Denoiser } from '../denoisers/denoiser.js';
import { alphaBarAt, type NoiseSchedule } from '../schedules/noise-schedule.js';
import { axpby, type Tensor } from '../tensor.js';

/** The write-up's neutral prompt for DeepFloyd (for mnist-flow the neutral prompt is ''). */
export const NEUTRAL_PROMPT = 'a high quality photo';

/** x̂0 from x_t and ε̂ (the "predOriginalSample" of diffusers). */
export function predictOriginal(schedule: NoiseSchedule, xt: Tensor, t: number, eps: Tensor): Tensor {
  const a = alphaBarAt(schedule, t);
  return axpby(1 / Math.sqrt(a), xt, -Math.sqrt(1 - a) / Math.sqrt(a), eps);
}

export interface OneStepOptions {
  /** Conditioning prompt, one for the whole batch (NEUTRAL_PROMPT for DeepFloyd, '' for digits). */
  prompt: string;
}

/** Denoises x_t [B, c, h, w] at timestep t in one model call. */
export async function oneStepDenoise(denoiser: Denoiser, xt: Tensor, t: number, opts: OneStepOptions): Promise<Tensor> {
  const cond = (await denoiser.encode([opts.prompt])).take(new Array<number>(xt.shape[0]).fill(0));
  const { eps } = await denoiser.predict(xt, t, cond);
  return predictOriginal(denoiser.schedule, xt, t, eps);
}
