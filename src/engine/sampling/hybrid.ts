// Hybrid images by factorized diffusion (write-up A.1.9, Geng et al. 2024): ε = lowpass(ε_far) + highpass(ε_near),
// the Gaussian low-pass of kernel 33, σ 2 at 64 px scaled with the image; the variance is averaged.
import type { Conditioning, Denoiser } from '../denoisers/denoiser.js';
import { sub, add, type Tensor } from '../tensor.js';
import { reducePredictions } from './anagram.js';
import { gaussianBlur, type BlurOptions } from './blur.js';
import { DEFAULT_GUIDANCE_SCALE, encodeGuided, guidedPredict, type CfgOptions } from './cfg.js';
import { denoiseLoop, type Estimator, type SampleResult } from './iterative.js';

/** Kernel 33, σ 2 at 64 px, scaled with the side (k = 133, σ = 8 at 256; k = 15, σ = 0.875 at 28). */
export function hybridFilter(side: number): Required<BlurOptions> {
  const k = Math.round((33 * side) / 64);
  return { sigma: (2 * side) / 64, kernelSize: k % 2 === 1 ? k : k + 1 };
}

export interface HybridOptions extends Omit<CfgOptions, 'prompt'> {
  /** What the image shows from afar (its low frequencies). */
  farPrompt: string;
  /** What it shows up close (its high frequencies). */
  nearPrompt: string;
  /** Overrides of the scaled low-pass filter. */
  filter?: BlurOptions;
}

/** ε = lowpass(ε_far) + highpass(ε_near) with both CFG-guided in one model call; the variance averaged. */
export function hybridEstimator(
  denoiser: Denoiser,
  cond: Conditioning,
  filter: BlurOptions,
  guidanceScale: number,
): Estimator {
  const lowpass = (e: Tensor): Tensor => gaussianBlur(e, filter);
  return async (xt, t) => {
    const preds = await guidedPredict(denoiser, [xt, xt], t, cond, guidanceScale);
    return reducePredictions(preds, ([far, near]) => {
      const nearLow = lowpass(near!);
      return add(lowpass(far!), sub(near!, nearLow));
    });
  };
}

export async function hybrid(denoiser: Denoiser, x: Tensor, opts: HybridOptions): Promise<SampleResult> {
  const filter = { ...hybridFilter(Math.min(denoiser.imageShape[1], denoiser.imageShape[2])), ...opts.filter };
  const cond = await encodeGuided(denoiser, [opts.farPrompt, opts.nearPrompt], x.shape[0]);
  return denoiseLoop(
    denoiser.schedule,
    hybridEstimator(denoiser, cond, filter, opts.guidanceScale ?? DEFAULT_GUIDANCE_SCALE),
    x,
    opts,
  );
}
