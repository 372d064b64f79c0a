// Stage II, the write-up's 256 px step: a technique's stage I result upscaled ×4 by the model's stage
// II, which runs the same technique's loop at the larger size (CFG for imagine, every view for an
// anagram, the factorized estimate for a hybrid), as visual_anagrams' sample_stage_2 does. Its draws
// come from the job's noise source after stage I's, so one seed (or one --noise file) gives the whole run.
import { SUPER_RESOLUTION_GUIDANCE, type StageII } from '../denoisers/deepfloyd-if.js';
import { InputError } from '../errors.js';
import { MODELS, type LoadedModel, type ModelEntry } from '../models/registry.js';
import type { NoiseSource } from '../random.js';
import type { ThresholdingMode } from '../sampling/thresholding.js';
import { sliceBatch, type Tensor } from '../tensor.js';
import { samplerFor, type Sampler } from './timesteps.js';

/** Stage II's side over stage I's. */
export const UPSCALE_FACTOR = 4;

/** The stage II settings of a job; absent, the job stops at stage I. */
export interface UpscaleJob {
  /** Stage II's denoising steps, as `steps` is for stage I (samplerFor, with stage II's thresholding). */
  steps: number;
  /** How far the upscaled stage I image is noised before it conditions the loop (0–999). */
  noiseLevel: number;
  /** Stage II's classifier-free guidance scale (diffusers' super-resolution default: 4). */
  guidance: number;
}

export const DEFAULT_UPSCALE_GUIDANCE = SUPER_RESOLUTION_GUIDANCE;

/** The models that can upscale, for messages. */
function stageIIModels(): string {
  return MODELS.filter((m) => m.supports.stageII)
    .map((m) => m.id)
    .join(', ');
}

/** Refuses `upscale` on a model without a stage II, naming the ones with one. */
export function requireStageII(model: ModelEntry): void {
  if (model.supports.stageII) return;
  const [c, h, w] = model.shape;
  throw new InputError(
    `upscale: ${model.id} has no stage II to upscale with (it makes ${w}×${h}${c === 1 ? ' grey' : ''} images and stops there)`,
    `upscale is for ${stageIIModels()}; drop upscale with ${model.id}`,
  );
}

/** Checks a job's stage II settings against the model before loading it. */
export function checkUpscale(model: ModelEntry, up: UpscaleJob | undefined, thresholding?: ThresholdingMode): void {
  if (up === undefined) return;
  requireStageII(model);
  samplerFor(up.steps, thresholding, 'II');
  if (!Number.isInteger(up.noiseLevel) || up.noiseLevel < 0 || up.noiseLevel > 999)
    throw new InputError(`noise_level must be an integer from 0 to 999, got ${up.noiseLevel}`);
  if (!Number.isFinite(up.guidance) || up.guidance < 0)
    throw new InputError(`stage II guidance must be a number ≥ 0, got ${up.guidance}`);
}

/** Stage II's side for the model's images. */
export function upscaledSide(model: ModelEntry): number {
  return model.shape[1] * UPSCALE_FACTOR;
}

/** Stage II's sampler for the job (its thresholding is stage II's: dynamic stops at 1.0). */
export function upscaleSampler(up: UpscaleJob, thresholding?: ThresholdingMode): Sampler {
  return samplerFor(up.steps, thresholding, 'II');
}

/** Stage II for image b of `lowRes`, drawing x_T and the conditioning noise from `rng` now. */
export function stageIIFor(
  model: LoadedModel,
  lowRes: Tensor,
  b: number,
  up: UpscaleJob,
  rng: NoiseSource,
): Promise<StageII> {
  if (!model.stageII) {
    requireStageII(model.entry);
    throw new Error(`${model.id} claims a stage II but its loaded model has none`);
  }
  return model.stageII(sliceBatch(lowRes, b, b + 1), {
    rng,
    noiseLevel: up.noiseLevel,
    size: upscaledSide(model.entry),
  });
}

/** What job.json records beside the settings: the size made and the stage II folder. */
export function upscaleRecord(model: LoadedModel): { size: number; source: string | undefined } {
  return { size: upscaledSide(model.entry), source: model.stageIISource };
}
