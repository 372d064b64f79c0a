// Where a job's Gaussian draws come from: its seed (the default), or a recorded noise file (`--noise`,
// noise_000, noise_001, … as diffusers drew them) to replay another implementation's run. job.json
// names the file and how many of its draws the run used.
import { Rng, type NoiseSource } from '../random.js';
import { NoiseFileError, ReplayNoise } from '../sampling/noise-file.js';
import { InputError } from '../errors.js';

export interface JobNoise {
  rng: NoiseSource;
  /** For job.json: the file and the draws used (after the run). */
  record(): { file: string; draws: number; of: number } | undefined;
}

export function jobNoise(seed: number, noiseFile?: string): JobNoise {
  if (noiseFile === undefined) return { rng: new Rng(seed), record: () => undefined };
  let replay: ReplayNoise;
  try {
    replay = ReplayNoise.fromFile(noiseFile);
  } catch (err) {
    if (err instanceof NoiseFileError)
      throw new InputError(
        err.message,
        'noise: a safetensors file of noise_000, noise_001, … (float, [batch, channels, height, width])',
      );
    throw err;
  }
  return { rng: replay, record: () => ({ file: noiseFile, draws: replay.used, of: replay.length }) };
}

/** A NoiseFileError raised mid-run (a draw the file lacks) as the user's error, naming the draw. */
export async function replaying<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof NoiseFileError)
      throw new InputError(
        err.message,
        "noise: the file must hold every draw the run makes, in order; replay with the recorded run's settings",
      );
    throw err;
  }
}
