// A recorded noise stream: the Gaussian draws of another run (e.g. diffusers with a recording
// `randn_tensor`), stored as noise_000, noise_001, … in a safetensors file, handed out in order so
// the engine reproduces that run number for number. A run that asks for a draw the file lacks, or
// for one of another shape, stops with a message saying which draw and what the file holds.
import {
  readSafetensorsHeader,
  readTensor,
  SafetensorsError,
  type SafetensorInfo,
} from '../denoisers/deepfloyd/hf-safetensors.js';
import type { NoiseSource } from '../random.js';
import { tensor, type Shape, type Tensor } from '../tensor.js';

const NAME = /^noise_(\d{3,})$/;

export class NoiseFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoiseFileError';
  }
}

export const noiseName = (k: number): string => `noise_${String(k).padStart(3, '0')}`;

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export class ReplayNoise implements NoiseSource {
  private next = 0;
  /** What each draw was asked for, for job records and leftover checks. */
  readonly requests: string[] = [];

  private constructor(
    readonly path: string,
    private readonly entries: readonly SafetensorInfo[],
  ) {}

  /**
   * Reads the header of `path` and checks its noise_NNN tensors: numbered from 000 without a gap,
   * float, 4-D (NCHW). Other tensors in the file (latents, images) are ignored.
   */
  static fromFile(path: string): ReplayNoise {
    let tensors: Map<string, SafetensorInfo>;
    try {
      tensors = readSafetensorsHeader(path).tensors;
    } catch (err) {
      const why = err instanceof SafetensorsError ? err.message : `cannot read it (${(err as Error).message})`;
      throw new NoiseFileError(`noise file ${path}: ${why}`);
    }
    const found = new Map<number, SafetensorInfo>();
    for (const [name, info] of tensors) {
      const m = NAME.exec(name);
      if (m) found.set(Number(m[1]), info);
    }
    if (found.size === 0) {
      throw new NoiseFileError(
        `noise file ${path} holds no noise_000, noise_001, … tensors (it has ${tensors.size} tensors${tensors.size ? `, e.g. ${[...tensors.keys()].slice(0, 3).join(', ')}` : ''})`,
      );
    }
    const entries: SafetensorInfo[] = [];
    for (let k = 0; k < found.size; k++) {
      const e = found.get(k);
      if (!e) {
        const last = Math.max(...found.keys());
        throw new NoiseFileError(
          `noise file ${path}: ${noiseName(k)} is missing, but draws up to ${noiseName(last)} are there; the draws must be numbered from noise_000 without a gap`,
        );
      }
      if (e.dtype !== 'F32' && e.dtype !== 'F16' && e.dtype !== 'BF16')
        throw new NoiseFileError(`noise file ${path}: ${e.name} is ${e.dtype}; noise must be F32, F16 or BF16`);
      if (e.shape.length !== 4)
        throw new NoiseFileError(
          `noise file ${path}: ${e.name} has shape ${fmt(e.shape)}; each draw must be 4-D [batch, channels, height, width]`,
        );
      entries.push(e);
    }
    return new ReplayNoise(path, entries);
  }

  /** Draws in the file. */
  get length(): number {
    return this.entries.length;
  }

  /** Draws handed out so far. */
  get used(): number {
    return this.next;
  }

  draw(shape: Shape, what: string): Tensor {
    const k = this.next;
    const e = this.entries[k];
    if (!e) {
      throw new NoiseFileError(
        `noise file ${this.path} holds ${this.entries.length} draws (noise_000 … ${noiseName(this.entries.length - 1)}); ` +
          `the run asked for draw ${k + 1} (${noiseName(k)}: ${what}, shape ${fmt(shape)}). Replay it with the settings of the recorded run (steps, timesteps, i_start).`,
      );
    }
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw new NoiseFileError(
        `noise file ${this.path}: ${e.name} has shape ${fmt(e.shape)}, but the run asked for ${what} of shape ${fmt(shape)}`,
      );
    }
    this.next++;
    this.requests.push(what);
    return tensor(shape, readTensor(e));
  }
}
