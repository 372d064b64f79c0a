// Strided timesteps for sampling with fewer steps than T (write-up A.1.4: 990, 960, …, 0) and the
// checks on i_start, which indexes that list (i_start = 10 → t = 690).

export interface StrideOptions {
  /** First (noisiest) timestep; default 990. */
  start?: number;
  /** Gap between timesteps; default 30. */
  stride?: number;
  /** Last timestep (included when the stride reaches it exactly); default 0. */
  end?: number;
}

/** `list(range(start, end - 1, -stride))`, descending. */
export function stridedTimesteps(opts: StrideOptions = {}): number[] {
  const { start = 990, stride = 30, end = 0 } = opts;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(stride) ||
    !Number.isInteger(end) ||
    stride < 1 ||
    end < 0 ||
    start < end
  ) {
    throw new RangeError(
      `strided timesteps need integers start ≥ end ≥ 0 and stride ≥ 1, got start ${start}, stride ${stride}, end ${end}`,
    );
  }
  const out: number[] = [];
  for (let t = start; t >= end; t -= stride) out.push(t);
  return out;
}

/** Throws unless i_start leaves at least one step to take. */
export function checkIStart(timesteps: readonly number[], iStart: number): void {
  if (!Number.isInteger(iStart) || iStart < 0 || iStart > timesteps.length - 2) {
    throw new RangeError(
      `i_start must be an integer from 0 to ${timesteps.length - 2} (timesteps ${timesteps[0]} … ${timesteps[timesteps.length - 1]}), got ${iStart}`,
    );
  }
}

/**
 * diffusers' `set_timesteps(n)` with timestep_spacing "leading" (what visual_anagrams uses):
 * k·(T // n) for k = n−1 … 0, e.g. 957, 924, …, 0 for n = 30.
 */
export function leadingTimesteps(n: number, numTrainTimesteps = 1000): number[] {
  if (!Number.isInteger(n) || n < 1 || n > numTrainTimesteps)
    throw new RangeError(`leading timesteps need an integer count from 1 to ${numTrainTimesteps}, got ${n}`);
  const stride = Math.floor(numTrainTimesteps / n);
  return Array.from({ length: n }, (_, i) => (n - 1 - i) * stride);
}

/** DeepFloyd's own 27-step stage II list (diffusers' `super27_timesteps`): dense near 1000, coarse below 800. */
export const SUPER27_TIMESTEPS: readonly number[] = [
  999, 991, 982, 974, 966, 958, 950, 941, 933, 925, 916, 908, 900, 899, 874, 850, 825, 800, 799, 700, 600, 500, 400,
  300, 200, 100, 0,
];
