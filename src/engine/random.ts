// Seeded randomness for the engine: every job's noise comes from an Rng built from its seed, so the
// same seed gives the same image. xoroshiro128+ from pure-rand; normals by Box–Muller.
// Samplers take any NoiseSource for their Gaussian draws: the seeded Rng by default, or a recorded
// stream (sampling/noise-file.ts) to replay another implementation's run draw for draw.
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';
import { numel, tensor, type Shape, type Tensor } from './tensor.js';

/** Largest seed accepted from users (seeds are stored and shown as plain integers). */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * Where a sampler's Gaussian draws come from, one call per draw in the order diffusers makes them
 * (initial noise, stage II's noise augmentation, then one per denoising step with t > 0).
 */
export interface NoiseSource {
  /** The next standard normal draw of `shape`; `what` names it in errors (e.g. "step 3 variance noise"). */
  draw(shape: Shape, what: string): Tensor;
}

export class Rng implements NoiseSource {
  private gen: JumpableRandomGenerator;
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw new RangeError(`seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
    }
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Restores a generator saved with `state()` (training resume). */
  static fromState(state: readonly number[]): Rng {
    const rng = new Rng(0);
    rng.gen = xoroshiro128plusFromState(state.slice(0, 4));
    rng.spare = state.length > 4 ? state[4] : undefined;
    return rng;
  }

  state(): number[] {
    const s = [...this.gen.getState()];
    if (this.spare !== undefined) s.push(this.spare);
    return s;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = (this.gen.next() >>> 0) >>> 5; // 27 bits
    const lo = (this.gen.next() >>> 0) >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal sample (Box–Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** n standard normal samples. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }

  /** A tensor of standard normals (the same numbers, in the same order, as `normals`). */
  draw(shape: Shape, _what?: string): Tensor {
    return tensor(shape, this.normals(numel(shape)));
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[] | Int32Array): void {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
  }
}
