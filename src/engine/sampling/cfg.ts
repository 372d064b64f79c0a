// Classifier-free guidance (write-up A.1.6, eq. A.4): ε = ε_u + γ(ε_c − ε_u), the conditional and
// unconditional rows run in ONE model call; the variance is taken from the conditional rows.
import type { Conditioning, Denoiser, Prediction } from '../denoisers/denoiser.js';
import { axpby, chunk, concat, type Tensor } from '../tensor.js';
import {
  blockRows,
  denoiseLoop,
  initialNoise,
  type Estimator,
  type LoopOptions,
  type SampleResult,
} from './iterative.js';

export const DEFAULT_GUIDANCE_SCALE = 7;

/**
 * Encodes prompts p_0 … p_{k−1} and '' once, laid out for `guidedPredict` over k inputs of B images:
 * rows [p_0 ×B, …, p_{k−1} ×B, '' ×kB].
 */
export async function encodeGuided(
  denoiser: Denoiser,
  prompts: readonly string[],
  batch: number,
): Promise<Conditioning> {
  const enc = await denoiser.encode([...prompts, '']);
  const k = prompts.length;
  return enc.take([
    ...blockRows(
      prompts.map((_, j) => j),
      batch,
    ),
    ...blockRows(new Array<number>(k).fill(k), batch),
  ]);
}

/** Guided estimates for k inputs (each [B, …]) with `cond` laid out by `encodeGuided`. */
export async function guidedPredict(
  denoiser: Denoiser,
  inputs: readonly Tensor[],
  t: number,
  cond: Conditioning,
  guidanceScale: number,
): Promise<Prediction[]> {
  const k = inputs.length;
  const pred = await denoiser.predict(concat([...inputs, ...inputs]), t, cond);
  const eps = chunk(pred.eps, 2 * k);
  const logVar = pred.logVar ? chunk(pred.logVar, 2 * k) : undefined;
  const values = pred.varianceValues ? chunk(pred.varianceValues, 2 * k) : undefined;
  return inputs.map((_, j) => {
    const out: Prediction = { eps: axpby(1 - guidanceScale, eps[k + j]!, guidanceScale, eps[j]!) };
    if (logVar) out.logVar = logVar[j]!;
    if (values) out.varianceValues = values[j]!;
    return out;
  });
}

/** CFG estimator for one prompt over a batch (cond from `encodeGuided(denoiser, [prompt], B)`). */
export function cfgEstimator(
  denoiser: Denoiser,
  cond: Conditioning,
  guidanceScale = DEFAULT_GUIDANCE_SCALE,
): Estimator {
  return async (xt, t) => (await guidedPredict(denoiser, [xt], t, cond, guidanceScale))[0]!;
}

export interface CfgOptions extends LoopOptions {
  prompt: string;
  /** γ; 0 = unconditional, 1 = conditional, default 7. */
  guidanceScale?: number;
}

/** Iterative denoising with CFG (A.1.6): `imagine` from pure noise (iStart 0) or any i_start. */
export async function cfgDenoise(denoiser: Denoiser, x: Tensor, opts: CfgOptions): Promise<SampleResult> {
  const cond = await encodeGuided(denoiser, [opts.prompt], x.shape[0]);
  return denoiseLoop(denoiser.schedule, cfgEstimator(denoiser, cond, opts.guidanceScale), x, opts);
}

export interface ImagineOptions extends Omit<CfgOptions, 'iStart'> {
  /** Images per call; default 1. */
  batch?: number;
}

/** Text-to-image (A.1.5 + A.1.6): pure noise from the seed's generator, then CFG denoising. */
export async function imagine(denoiser: Denoiser, opts: ImagineOptions): Promise<SampleResult> {
  const x = initialNoise(denoiser, opts.batch ?? 1, opts.rng);
  return cfgDenoise(denoiser, x, { ...opts, iStart: 0 });
}
