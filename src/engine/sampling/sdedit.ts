// SDEdit image-to-image translation (write-up A.1.7, Meng et al. 2022): noise the input to timesteps[i_start]
// with the forward process, then denoise with CFG. Higher i_start = less noise = closer to the input.
import type { Denoiser } from '../denoisers/denoiser.js';
import { checkIStart, stridedTimesteps } from '../schedules/timesteps.js';
import type { Tensor } from '../tensor.js';
import { cfgDenoise, type CfgOptions } from './cfg.js';
import { forward } from './forward.js';
import type { SampleResult } from './iterative.js';

/** The write-up's sweep. */
export const DEFAULT_I_STARTS = [1, 3, 5, 7, 10, 20] as const;

export interface SdeditOptions extends Omit<CfgOptions, 'iStart'> {
  /** Where to start in the timestep list; each gives one edit. */
  iStarts?: readonly number[];
}

export interface SdeditResult extends SampleResult {
  iStart: number;
  t: number;
}

/** One edit per i_start of the clean image(s) x0 [B, c, h, w], in range of the denoiser ([−1, 1]). */
export async function sdedit(denoiser: Denoiser, x0: Tensor, opts: SdeditOptions): Promise<SdeditResult[]> {
  const timesteps = opts.timesteps ?? stridedTimesteps();
  const iStarts = opts.iStarts ?? DEFAULT_I_STARTS;
  for (const i of iStarts) checkIStart(timesteps, i);
  const results: SdeditResult[] = [];
  for (const iStart of iStarts) {
    const t = timesteps[iStart]!;
    const { xt } = forward(denoiser.schedule, x0, t, opts.rng);
    const r = await cfgDenoise(denoiser, xt, { ...opts, timesteps, iStart });
    results.push({ ...r, iStart, t });
  }
  return results;
}
