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
  if (!Number.isInteger(start) || !Number.isInteger(stride) || !Number.isInteger(end) || stride < 1 || end < 0 || start < end) {
    throw new RangeError(`strided timesteps need integers start ≥ end ≥ 0 and stride ≥ 1, got start ${start}, stride ${stride}, end ${end}`);
  }
  const out: number[] = [];
  for (let t = start; t >= end; t -= stride) out.push(t);
  return out;
}

/** Throws unless i_start leaves at least one step to take. */
export function checkIStart(timesteps: readonly number[], iStart: number): void {
  if (!Number.isInteger(iStart) || iStart < 0 || iStart > timesteps.length - 2) {
    throw new RangeError(`i_start must be an integer from 0 to ${timesteps.length - 2} (timesteps ${timesteps[0]} … ${timesteps[timesteps.length - 1]}), got ${iStart}`);
  }
}
