// How many denoising steps a job takes (`--steps`): evenly spaced timesteps from 990 to 0; 33 steps give
// exactly the write-up's list 990, 960, …, 0, and i_start indexes this list as in the write-up.
import {
  THRESHOLDING_MODES,
  thresholdingFor,
  type Thresholding,
  type ThresholdingMode,
} from '../sampling/thresholding.js';
import { leadingTimesteps, stridedTimesteps } from '../schedules/timesteps.js';
import { InputError } from '../errors.js';

export const DEFAULT_STEPS = 33;
/** The most steps the 990 → 0 list can hold (distinct integer timesteps); what users may ask is src/techniques' STEPS. */
export const MAX_STEPS = 990;
const FIRST_T = 990;

/** steps + 1 descending timesteps from 990 to 0. */
export function timestepsForSteps(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS)
    throw new InputError(`steps must be an integer from 1 to ${MAX_STEPS}, got ${steps}`);
  if (steps === DEFAULT_STEPS) return stridedTimesteps();
  return Array.from({ length: steps + 1 }, (_, i) => Math.round(FIRST_T * (1 - i / steps)));
}

/** Timesteps for denoising from an arbitrary t: t itself, then the job's timesteps below it. */
export function timestepsFrom(t: number, steps: number): number[] {
  return [t, ...timestepsForSteps(steps).filter((s) => s < t)];
}

/**
 * Checks i_start values against the job's timestep list. Too large a value is reported as the largest
 * one given, so raising steps above it fixes them all.
 */
export function checkIStarts(iStarts: readonly number[], timesteps: readonly number[]): void {
  const steps = timesteps.length - 1;
  const max = steps - 1;
  const allowed = `i_start: 0 to ${max} (0 = pure noise, t ${timesteps[0]}; higher = closer to your image; ${max} = t ${timesteps[max]}); or raise steps`;
  for (const i of iStarts) {
    if (!Number.isInteger(i) || i < 0) throw new InputError(`i_start ${i} is not an integer from 0 to ${max}`, allowed);
  }
  const largest = Math.max(...iStarts);
  if (largest > max)
    throw new InputError(
      `i_start ${largest} leaves no step to take with ${steps} steps: it must be an integer from 0 to ${max}`,
      allowed,
    );
}

/**
 * How a job samples: the write-up's loop (no thresholding, `timestepsForSteps`), or, with a thresholding
 * mode, diffusers' DDPMScheduler as DeepFloyd IF configures it: `set_timesteps(steps)` (leading
 * spacing: 957, 924, … for 30), x̂0 thresholded at every step, and a last step at t = 0 that returns
 * its x̂0. The second is what `--noise` needs to replay a diffusers run (IFPipeline, visual_anagrams).
 */
export interface Sampler {
  timesteps: number[];
  thresholding?: Thresholding | undefined;
  finalStep: boolean;
}

export function samplerFor(steps: number, mode: ThresholdingMode = 'none'): Sampler {
  if (!(THRESHOLDING_MODES as readonly string[]).includes(mode))
    throw new InputError(`thresholding must be one of ${THRESHOLDING_MODES.join(', ')}, got "${mode}"`);
  if (mode === 'none') return { timesteps: timestepsForSteps(steps), finalStep: false };
  if (!Number.isInteger(steps) || steps < 2 || steps > MAX_STEPS)
    throw new InputError(`steps must be an integer from 2 to ${MAX_STEPS} with thresholding, got ${steps}`);
  return { timesteps: leadingTimesteps(steps), thresholding: thresholdingFor(mode, 'I'), finalStep: true };
}
