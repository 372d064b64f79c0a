// The one abstraction every Part A technique is written against (docs/architecture.md): a DDPM ε-predictor with a
// noise schedule and a prompt encoder. DeepFloyd IF and the MNIST flow model both implement it.
import type { NoiseSchedule } from '../schedules/noise-schedule.js';
import type { Tensor } from '../tensor.js';

/**
 * Encoded prompts, one row per prompt. Opaque to the samplers except for `take`, which lets them
 * lay out one batch for several prompts (CFG's conditional and unconditional rows, anagram views)
 * without encoding twice.
 */
export interface Conditioning {
  /** The prompt of each row ('' = unconditional). */
  readonly prompts: readonly string[];
  /** Row i of the result is row rows[i] of this conditioning. */
  take(rows: readonly number[]): Conditioning;
  /**
   * Spatial conditioning per row (DeepFloyd stage II: the noise-augmented upscaled stage I image).
   * Anagram samplers view it exactly as they view x_t and put it back with `withImage`.
   */
  readonly image?: Tensor;
  withImage?(image: Tensor): Conditioning;
}

export interface Prediction {
  /** ε̂, shape of x_t. */
  eps: Tensor;
  /** Model-predicted log-variance of the step, when a model predicts it directly. */
  logVar?: Tensor;
  /**
   * DeepFloyd's `learned_range` variance values v ∈ [−1, 1]. They become a log-variance only once
   * the sampler knows its next timestep t′ (see schedules/variance.ts), which `predict` does not.
   */
  varianceValues?: Tensor;
}

export interface Denoiser {
  readonly id: string;
  readonly imageShape: readonly [c: number, h: number, w: number];
  readonly schedule: NoiseSchedule;
  /** One conditioning row per prompt; '' is the unconditional prompt of CFG. */
  encode(prompts: string[]): Promise<Conditioning>;
  /**
   * Noise estimate at DDPM timestep t for a batch x_t [B, c, h, w]; `cond` must have B rows
   * (row b conditions image b), so CFG runs conditional and unconditional rows in one call.
   */
  predict(xt: Tensor, t: number, cond: Conditioning): Promise<Prediction>;
}

/** Throws unless x matches the denoiser's image shape and cond has one row per image. */
export function checkBatch(denoiser: Denoiser, xt: Tensor, cond: Conditioning): void {
  const [c, h, w] = denoiser.imageShape;
  const [n, xc, xh, xw] = xt.shape;
  if (xc !== c || xh !== h || xw !== w) {
    throw new RangeError(`${denoiser.id} takes images [B, ${c}, ${h}, ${w}], got [${xt.shape.join(', ')}]`);
  }
  if (cond.prompts.length !== n) {
    throw new RangeError(`${denoiser.id}: conditioning has ${cond.prompts.length} rows for a batch of ${n}`);
  }
}
