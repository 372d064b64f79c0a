// What diffusers' DDPMScheduler does to x̂0 before each step's mean. The write-up's loop leaves x̂0 as
// it is (the default here); DeepFloyd IF's scheduler configs turn on dynamic thresholding (Saharia et
// al. 2022): s = the `ratio` quantile of |x̂0| per image, clamped to [1, maxValue], x̂0 ← clamp(x̂0, −s, s)/s.
// `clip` is diffusers' fallback when thresholding is off but clip_sample is on: clamp(x̂0, −1, 1).
import { tensor, type Tensor } from '../tensor.js';

export type Thresholding =
  | {
      kind: 'dynamic' /** Quantile of |x̂0|; IF: 0.95. */;
      ratio: number /** Largest s; IF: 1.5 at stage I, 1.0 at stage II. */;
      maxValue: number;
    }
  | { kind: 'clip' };

/** The thresholding modes a job may name ('none' = the write-up's loop). */
export const THRESHOLDING_MODES = ['none', 'dynamic', 'clip'] as const;
export type ThresholdingMode = (typeof THRESHOLDING_MODES)[number];

/** DeepFloyd IF's scheduler settings (IF-I: sample_max_value 1.5, IF-II: 1.0; ratio 0.95 both). */
export const IF_STAGE_I_THRESHOLDING: Thresholding = { kind: 'dynamic', ratio: 0.95, maxValue: 1.5 };
export const IF_STAGE_II_THRESHOLDING: Thresholding = { kind: 'dynamic', ratio: 0.95, maxValue: 1.0 };

export function thresholdingFor(mode: ThresholdingMode, stage: 'I' | 'II' = 'I'): Thresholding | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'clip') return { kind: 'clip' };
  return stage === 'I' ? IF_STAGE_I_THRESHOLDING : IF_STAGE_II_THRESHOLDING;
}

const f = Math.fround;

/**
 * torch.quantile(values, q) with its default linear interpolation, in float32 as torch computes it
 * (q and the rank rounded to float32, then torch.lerp). Sorts `values` in place.
 */
export function quantileLinear(values: Float32Array, q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in [0, 1], got ${q}`);
  values.sort();
  const rank = f(f(q) * (values.length - 1));
  const lo = Math.floor(rank);
  const hi = Math.min(Math.ceil(rank), values.length - 1);
  const w = f(rank - lo);
  const a = values[lo]!,
    b = values[hi]!;
  // torch.lerp: start + w·(end − start) below w = 0.5, end − (end − start)·(1 − w) from 0.5 on.
  return w < 0.5 ? f(a + f(w * f(b - a))) : f(b - f(f(b - a) * f(1 - w)));
}

/** Per image of x0 [B, …], the thresholds s that `threshold` divides by (1 for clip). */
export function thresholds(x0: Tensor, mode: Thresholding): number[] {
  const n = x0.shape[0];
  if (mode.kind === 'clip') return new Array<number>(n).fill(1);
  const per = x0.data.length / n;
  const out: number[] = [];
  for (let b = 0; b < n; b++) {
    const abs = x0.data.slice(b * per, (b + 1) * per).map(Math.abs);
    out.push(Math.min(Math.max(quantileLinear(abs, mode.ratio), 1), mode.maxValue));
  }
  return out;
}

/** x̂0 thresholded as diffusers' `_threshold_sample` (dynamic) or `clip_sample` (clip). */
export function threshold(x0: Tensor, mode: Thresholding): Tensor {
  if (mode.kind === 'dynamic' && !(mode.ratio > 0 && mode.ratio <= 1 && mode.maxValue >= 1)) {
    throw new RangeError(
      `dynamic thresholding needs 0 < ratio ≤ 1 and maxValue ≥ 1, got ratio ${mode.ratio}, maxValue ${mode.maxValue}`,
    );
  }
  const s = thresholds(x0, mode);
  const per = x0.data.length / x0.shape[0];
  const out = new Float32Array(x0.data.length);
  for (let i = 0; i < out.length; i++) {
    const sb = s[Math.floor(i / per)]!;
    out[i] = Math.min(Math.max(x0.data[i]!, -sb), sb) / sb;
  }
  return tensor(x0.shape, out);
}
