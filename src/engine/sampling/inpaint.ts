// Inpainting (write-up A.1.7.2, RePaint-style): after every step x_t ← m·x_t + (1 − m)·forward(x_orig, t),
// so only the masked region (m = 1) gets new content; outside it the result is the original exactly.
// diffusers' IFInpaintingPipeline keeps the clean original outside the mask instead (`keep: 'clean'`):
// it starts from m·forward(x_orig, t_start) + (1 − m)·x_orig and draws no noise for the kept pixels.
import type { Denoiser } from '../denoisers/denoiser.js';
import { InputError } from '../errors.js';
import { checkIStart, stridedTimesteps } from '../schedules/timesteps.js';
import { tensor, where, type Tensor } from '../tensor.js';
import { cfgEstimator, encodeGuided, type CfgOptions } from './cfg.js';
import { addNoise } from './forward.js';
import { denoiseLoop, type SampleResult } from './iterative.js';

export interface InpaintOptions extends CfgOptions {
  /**
   * What the pixels outside the mask hold during the loop: the original noised afresh to each step's
   * t′ ('noised', the write-up, default) or the clean original ('clean', diffusers).
   */
  keep?: 'noised' | 'clean';
}

/** A [1, 1, h, w] mask that is 1 inside the box (the region to repaint) and 0 elsewhere. */
export function boxMask(h: number, w: number, box: { x: number; y: number; width: number; height: number }): Tensor {
  const { x, y, width, height } = box;
  if (
    ![x, y, width, height].every(Number.isInteger) ||
    width < 1 ||
    height < 1 ||
    x < 0 ||
    y < 0 ||
    x + width > w ||
    y + height > h
  ) {
    throw new InputError(
      `box x,y,w,h = ${x},${y},${width},${height} must be integers inside the ${w}×${h} image with w, h ≥ 1`,
    );
  }
  const m = new Float32Array(h * w);
  for (let r = y; r < y + height; r++) m.fill(1, r * w + x, r * w + x + width);
  return tensor([1, 1, h, w], m);
}

/**
 * Repaints where mask = 1 in `original` [B, c, h, w]; mask is [1|B, 1|c, h, w] with values 0/1.
 * Starts from forward(original, timesteps[iStart]) (iStart 0, the default, is almost pure noise).
 */
export async function inpaint(
  denoiser: Denoiser,
  original: Tensor,
  mask: Tensor,
  opts: InpaintOptions,
): Promise<SampleResult> {
  for (const v of mask.data) {
    if (v !== 0 && v !== 1) throw new RangeError(`inpainting masks must be 0 (keep) or 1 (repaint), found ${v}`);
  }
  const timesteps = opts.timesteps ?? stridedTimesteps();
  const iStart = opts.iStart ?? 0;
  checkIStart(timesteps, iStart);
  const { schedule } = denoiser;
  const t0 = timesteps[iStart]!;
  const start = addNoise(schedule, original, t0, opts.rng.draw(original.shape, `the forward noise to t = ${t0}`));
  let x: Tensor;
  let keep: (x: Tensor, t: number) => Tensor;
  if (opts.keep === 'clean') {
    x = where(mask, start, original);
    keep = (xt) => where(mask, xt, original);
  } else {
    if (opts.keep !== undefined && opts.keep !== 'noised')
      throw new RangeError(`inpainting keep must be "noised" or "clean", got "${String(opts.keep)}"`);
    x = start;
    // Past the last timestep (diffusers' final step) the original is its own noised version.
    keep = (xt, t) =>
      where(
        mask,
        xt,
        t < 0
          ? original
          : addNoise(
              schedule,
              original,
              t,
              opts.rng.draw(original.shape, `the forward noise of the kept pixels to t = ${t}`),
            ),
      );
  }
  const cond = await encodeGuided(denoiser, [opts.prompt], original.shape[0]);
  const result = await denoiseLoop(
    schedule,
    cfgEstimator(denoiser, cond, opts.guidanceScale),
    x,
    { ...opts, timesteps, iStart },
    keep,
  );
  // ᾱ at the last timestep is just below 1, so forward(x_orig, 0) still carries a little noise;
  // the kept pixels are restored exactly at the end.
  return { ...result, image: where(mask, result.image, original) };
}
