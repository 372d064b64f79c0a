// Visual anagrams (write-up A.1.8, Geng et al. 2024): ε = mean over views i of inverseView_i(CFG(view_i(x_t), p_i)),
// the variance averaged the same way. All views, conditional and unconditional, go in one model call.
import type { Conditioning, Denoiser, Prediction } from '../denoisers/denoiser.js';
import { chunk, concat, mean, type Tensor } from '../tensor.js';
import type { View } from '../views/view.js';
import { DEFAULT_GUIDANCE_SCALE, encodeGuided, guidedPredict, type CfgOptions } from './cfg.js';
import { denoiseLoop, type Estimator, type SampleResult } from './iterative.js';

export interface AnagramOptions extends Omit<CfgOptions, 'prompt'> {
  /** p_i is what the image shows through views[i]; two or three prompts. */
  prompts: readonly string[];
  views: readonly View[];
}

/** Views the spatial conditioning (stage II's low-res image) block by block like x_t. */
export function viewConditioning(cond: Conditioning, views: readonly View[]): Conditioning {
  if (!cond.image || !cond.withImage) return cond;
  const blocks = chunk(cond.image, 2 * views.length);
  return cond.withImage(concat(blocks.map((b, j) => views[j % views.length]!.view(b))));
}

/** ε and variance of the anagram at x_t (eqs. A.6–A.8 generalised to k views). */
export function anagramEstimator(
  denoiser: Denoiser,
  cond: Conditioning,
  views: readonly View[],
  guidanceScale: number,
): Estimator {
  return async (xt, t) => {
    const preds = await guidedPredict(
      denoiser,
      views.map((v) => v.view(xt)),
      t,
      cond,
      guidanceScale,
    );
    const back = (p: Prediction, v: View): Prediction => {
      const out: Prediction = { eps: v.inverseView(p.eps) };
      const inv = v.inverseVariance ?? v.inverseView;
      if (p.logVar) out.logVar = inv(p.logVar);
      if (p.varianceValues) out.varianceValues = inv(p.varianceValues);
      return out;
    };
    return reducePredictions(
      preds.map((p, j) => back(p, views[j]!)),
      mean,
    );
  };
}

/** Combines per-branch predictions: ε by `combineEps`, variance always averaged. */
export function reducePredictions(preds: readonly Prediction[], combineEps: (eps: Tensor[]) => Tensor): Prediction {
  const out: Prediction = { eps: combineEps(preds.map((p) => p.eps)) };
  if (preds.every((p) => p.logVar)) out.logVar = mean(preds.map((p) => p.logVar!));
  if (preds.every((p) => p.varianceValues)) out.varianceValues = mean(preds.map((p) => p.varianceValues!));
  return out;
}

/** Samples an anagram from x (pure noise at iStart 0, usually `initialNoise`). */
export async function anagram(denoiser: Denoiser, x: Tensor, opts: AnagramOptions): Promise<SampleResult> {
  const { prompts, views } = opts;
  if (prompts.length < 2 || prompts.length > 3 || views.length !== prompts.length) {
    throw new RangeError(
      `an anagram takes 2 or 3 prompts and one view per prompt, got ${prompts.length} prompts and ${views.length} views`,
    );
  }
  const cond = viewConditioning(await encodeGuided(denoiser, prompts, x.shape[0]), views);
  const estimate = anagramEstimator(denoiser, cond, views, opts.guidanceScale ?? DEFAULT_GUIDANCE_SCALE);
  return denoiseLoop(denoiser.schedule, estimate, x, opts);
}
