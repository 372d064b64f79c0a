// How many denoising steps a job takes (`--steps`): evenly spaced timesteps from 990 to 0; 33 steps give
// exactly the write-up's list 990, 960, …, 0, and i_start indexes this list as in the write-up.
import { stridedTimesteps } from '../schedules/timesteps.js';
import { InputError } from '../errors.js';

export const DEFAULT_STEPS = 33;
/** The most steps the 990 → 0 list can hold (distinct integer timesteps); what users may ask is src/techniques' STEPS. */
export const MAX_STEPS = 990;
const FIRST_T = 990;

/** steps + 1 descending timesteps from 990 to 0. */
export function timestepsForSteps(steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw new InputError(`steps must be an integer from 1 to ${MAX_STEPS}, got ${steps}`);
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
  if (largest > max) throw new InputError(`i_start ${largest} leaves no step to take with ${steps} steps: it must be an integer from 0 to ${max}`, allowed);
}
