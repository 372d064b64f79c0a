// DDPM noise schedules: the cosine (`squaredcos_cap_v2`) schedule DeepFloyd IF was trained with,
// constructed from hyper-parameters only and precomputing alphasCumprod (as diffusers' schedulers do).

export interface NoiseSchedule {
  readonly name: string;
  /** T, the number of training timesteps; valid t are 0 … T−1. */
  readonly numTrainTimesteps: number;
  readonly betas: Float64Array;
  /** ᾱ_t = ∏_{s ≤ t} (1 − β_s). */
  readonly alphasCumprod: Float64Array;
}

export const SCHEDULE_NAMES = ['squaredcos_cap_v2'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

/**
 * Cosine schedule of Nichol & Dhariwal (2021), eq. 17: ᾱ(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008,
 * discretised as β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999) like diffusers' `betas_for_alpha_bar`.
 * Computed in float64 (diffusers uses float32; the difference is below 1e-6 in ᾱ).
 */
export function cosineSchedule(numTrainTimesteps = 1000, maxBeta = 0.999): NoiseSchedule {
  const T = numTrainTimesteps;
  if (!Number.isInteger(T) || T < 2) throw new RangeError(`numTrainTimesteps must be an integer ≥ 2, got ${T}`);
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(T);
  const alphasCumprod = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    betas[i] = Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), maxBeta);
    prod *= 1 - betas[i]!;
    alphasCumprod[i] = prod;
  }
  return { name: 'squaredcos_cap_v2', numTrainTimesteps: T, betas, alphasCumprod };
}

export function scheduleByName(name: string, numTrainTimesteps = 1000): NoiseSchedule {
  if (name === 'squaredcos_cap_v2') return cosineSchedule(numTrainTimesteps);
  throw new RangeError(`unknown noise schedule "${name}"; allowed: ${SCHEDULE_NAMES.join(', ')}`);
}

/** ᾱ_t with a range check (a wrong t is a silent disaster otherwise). */
export function alphaBarAt(schedule: NoiseSchedule, t: number): number {
  const v = schedule.alphasCumprod[t];
  if (!Number.isInteger(t) || v === undefined) {
    throw new RangeError(`timestep must be an integer from 0 to ${schedule.numTrainTimesteps - 1}, got ${t}`);
  }
  return v;
}
